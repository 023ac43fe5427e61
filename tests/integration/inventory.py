"""The table of faults and bad inputs in tests/README.md, built from the integration tests' own
parameters (their ``INJECTED`` lists, computed from the cases they run).

    python tests/integration/inventory.py     # rewrite the table in tests/README.md

``test_inventory.py`` fails when the README's table and the tests disagree.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
MODULES = (
    "test_download_faults",
    "test_interrupts",
    "test_interrupt_grizli",
    "test_full_disk",
    "test_bad_inputs",
    "test_crds_server",
    "test_grizli_config",
    "test_mast_query",
    "test_secrets",
)
START = "<!-- inventory: written by tests/integration/inventory.py from the tests; do not edit -->"
END = "<!-- end of inventory -->"


def injections() -> list:
    package = __package__ or "integration"
    return [
        injection
        for name in MODULES
        for injection in importlib.import_module(f"{package}.{name}").INJECTED
    ]


def table() -> str:
    rows = injections()
    lines = [
        "| fault or bad input | injected | outcome | test |",
        "|---|---:|---|---|",
        *(f"| {i.what} | {i.times} | {i.outcome} | `{i.test}` |" for i in rows),
        f"| **total** | **{sum(i.times for i in rows)}** | corrupt products found: **0** | |",
    ]
    return "\n".join(lines)


def current(text: str) -> str:
    """The table now in the README (empty if its markers are missing)."""
    if START not in text or END not in text:
        return ""
    return text.split(START, 1)[1].split(END, 1)[0].strip()


def write() -> None:
    text = README.read_text()
    before, rest = text.split(START, 1)
    after = rest.split(END, 1)[1]
    README.write_text(f"{before}{START}\n{table()}\n{END}{after}")


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from integration.inventory import write as write_readme

    write_readme()
    print(f"wrote the inventory table in {README}")
