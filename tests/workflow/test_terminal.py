"""What a user sees: the terminal of the session build (tests/conftest.py ``built`` keeps what
Snakemake printed in ``terminal.txt``) is short, and the rules' logs still hold the detail.

The default profile hides Snakemake's block per job (``quiet: [rules]``); each job's output goes
to its rule's log; the terminal keeps Snakemake's progress, each job's one-line result (prefixed
with the rule and its field/exposure), progress inside long steps, and warnings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from conftest import exposures
from support import TERMINAL_FILE

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

MAX_LINES = 400
PROGRESS = re.compile(r"^(\d+) of (\d+) steps \(\d+%\) done$")


@pytest.fixture(scope="module")
def terminal(built) -> list[str]:
    return (built / TERMINAL_FILE).read_text().splitlines()


def test_terminal_is_short_and_shows_progress(terminal):
    assert len(terminal) < MAX_LINES, "\n".join(terminal)
    steps = [PROGRESS.match(line) for line in terminal]
    steps = [(int(m[1]), int(m[2])) for m in steps if m]
    assert len(steps) >= 20, "Snakemake's 'N of M steps' lines are missing"
    assert steps[-1][0] == steps[-1][1]  # ... to the end
    assert [done for done, _ in steps] == sorted(done for done, _ in steps)
    assert not [line for line in terminal if "DEBUG" in line]
    repeated = [a for a, b in zip(terminal, terminal[1:]) if a.strip() and a == b]
    assert not repeated, f"lines printed twice in a row: {repeated[:5]}"
    # Library chatter stays in the logs: stpipe, grizli's echo of its calls, Python warnings.
    for chatter in ("stpipe", "Detector1Pipeline", "jwst_utils.", "prep.", "Warning:", "# ("):
        assert not [line for line in terminal if chatter in line], chatter


def test_terminal_names_each_job_with_its_numbers(built, terminal):
    table = exposures(built)
    (field,) = sorted(set(table["field"]))
    text = "\n".join(terminal)
    for exposure in table["obs_id"]:
        assert f"[download {field}/{exposure}] UNCAL downloaded and verified" in text
        assert f"[stage1 {field}/{exposure}] RATE in " in text
    count = len(table)
    for line in (
        rf"\[preprocess {field}\] exposures initialised: 1/{count} ",
        rf"\[preprocess {field}\] exposures initialised: {count}/{count} ",
        rf"\[preprocess {field}\] {count} exposures prepared in \d+ s",
        rf"\[mosaic {field}\] detection catalogue of \d+ sources",
        rf"\[contam {field}\] grism exposures modelled: (\d+)/\1 ",
        rf"\[contam {field}\] contamination models of \d+ grism exposures .*; extraction limit",
        rf"\[extract {field}\] \d+ sources extracted, \d+ skipped, 0 failed",
        rf"\[zfit {field}\] \d+ sources fitted \(\d+ good redshifts, 0 failed\)",
    ):
        assert re.search(line, text), f"{line!r} not on the terminal:\n{text}"


def test_logs_keep_the_detail(built):
    table = exposures(built)
    (field,) = sorted(set(table["field"]))
    logs = built / "FIELDS" / field / "logs"
    for exposure in table["obs_id"]:
        text = (logs / "stage1" / f"{exposure}.log").read_text()
        # stpipe's own records, once each (one handler), DEBUG included; our summary line.
        assert text.count("Step Detector1Pipeline done") == 1
        assert "stpipe.Detector1Pipeline.jump" in text and " DEBUG " in text
        assert "RATE in " in text and "stage1: done in" in text
    preprocess = (logs / "preprocess.log").read_text()
    # grizli's printed echo of its calls and our progress lines that the terminal skipped.
    assert "jwst_utils.set_jwst_to_hst_keywords" in preprocess
    assert f"exposures initialised: {len(table) // 2}/{len(table)}" in preprocess
    # Job logs: one folder per per-exposure/per-filter rule, one file per per-field rule (the
    # other files there, fmap.log, stage1.log, mosaic.log, are field_summary's products).
    jobs = sorted(Path(logs).glob("*/*.log"))
    jobs += [logs / f"{rule}.log" for rule in ("preprocess", "contam", "extract", "zfit")]
    assert len(jobs) > 2 * len(table)
    for log in jobs:
        assert " done in " in log.read_text(), f"{log} lacks the job's last line"
