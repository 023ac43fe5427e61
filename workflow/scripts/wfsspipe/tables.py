"""The stages' ECSV tables read back by the later stages, checked the same way."""

from __future__ import annotations

import os
from collections.abc import Iterable


def read_ecsv_table(
    path: str | os.PathLike,
    columns: Iterable[str],
    text_columns: Iterable[str],
    error: type[Exception],
    rule: str,
):
    """The ECSV table at ``path``, refused with ``error`` (naming the file and the ``rule`` that
    writes it) if it lacks any of ``columns``. ``text_columns`` come back as plain strings: an
    empty string is written as nothing and reads back masked."""
    from astropy.table import Table

    table = Table.read(path, format="ascii.ecsv")
    missing = [c for c in columns if c not in table.colnames]
    if missing:
        raise error(f"{path} lacks columns {missing}: rerun the {rule} rule")
    for name in text_columns:
        if hasattr(table[name], "filled"):
            table[name] = table[name].filled("")
    return table
