"""wfsspipe.logs.job_logging: the detail goes to the log file, the terminal gets a few lines.

The job runs in a subprocess whose stdout and stderr are the "terminal" (as Snakemake's are)."""

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

JOB = textwrap.dedent(
    """
    import logging, os, sys, warnings
    sys.path.insert(0, {scripts!r})
    from wfsspipe.logs import Progress, job_logging, milestone

    print("before the job")  # not inside: stays on the terminal
    with job_logging({log!r}, "stage1", {{"field": "sex-00", "exposure": "jw1_nis"}}) as log:
        print("grizli says hello")
        os.write(1, b"C code on fd 1\\n")
        os.write(2, b"C code on fd 2\\n")
        warnings.warn("an astropy warning")
        logging.getLogger("stpipe.Detector1Pipeline").setLevel(logging.DEBUG)  # as stpipe does
        logging.getLogger("stpipe.Detector1Pipeline").debug("a debug line")
        logging.getLogger("stpipe.Detector1Pipeline").info("a parameter dump")
        logging.getLogger("grizli").warning("a library warning")
        log.warning("our own warning")
        log.info("detail for the log")
        progress = Progress(log, "sex-00: fits", total=3, unit="sources", interval=3600)
        for index in range(3):
            progress.advance(f"source {{index}}")
        {fail}
        milestone(log, "sex-00/jw1_nis: RATE written, %d groups", 10)
    print("after the job")
    """
)


def run_job(tmp_path, fails=False):
    log = tmp_path / "logs" / "job.log"
    fail = 'raise ValueError("broken input")' if fails else "pass"
    script = JOB.format(scripts=str(ROOT / "workflow" / "scripts"), log=str(log), fail=fail)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    return result, log.read_text()


def test_terminal_gets_milestones_progress_and_own_warnings_only(tmp_path):
    result, log = run_job(tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["before the job", "after the job"]
    terminal = result.stderr.splitlines()
    assert terminal == [
        "[stage1 sex-00/jw1_nis] WARNING: our own warning",
        "[stage1 sex-00/jw1_nis] sex-00: fits: 1/3 sources in 0.0 s, about 0.0 s left (source 0)",
        "[stage1 sex-00/jw1_nis] sex-00: fits: 3/3 sources in 0.0 s (source 2)",
        "[stage1 sex-00/jw1_nis] sex-00/jw1_nis: RATE written, 10 groups",
    ], result.stderr
    for detail in ("grizli says hello", "C code on fd 1", "C code on fd 2", "an astropy warning",
                   "a debug line", "a parameter dump", "a library warning", "our own warning",
                   "detail for the log", "2/3 sources", "RATE written", "done in"):  # fmt: skip
        assert detail in log, detail
    assert log.count("a parameter dump") == 1  # one handler: no line twice


def test_failure_names_the_error_and_the_log_on_the_terminal(tmp_path):
    result, log = run_job(tmp_path, fails=True)
    assert result.returncode == 1
    error = [line for line in result.stderr.splitlines() if line.startswith("[stage1")][-1]
    assert "ERROR: failed after" in error and "ValueError: broken input" in error
    assert str(tmp_path / "logs" / "job.log") in error
    assert "Traceback" in result.stderr  # Python's own report, after the job gave back stderr
    assert "ValueError: broken input" in log


RULE_JOB = textwrap.dedent(
    """
    import sys, types
    sys.path.insert(0, {scripts!r})
    from wfsspipe.logs import rule_job

    class StageError(RuntimeError):
        pass

    snakemake = types.SimpleNamespace(
        log=[{log!r}], rule="contam", wildcards={{"field": "sex-00"}}
    )
    with rule_job(snakemake, StageError) as log:
        raise {error}("sex-00_visits.ecsv is missing: rerun preprocess")
    """
)


def run_rule_job(tmp_path, error):
    log = tmp_path / "logs" / "contam.log"
    script = RULE_JOB.format(scripts=str(ROOT / "workflow" / "scripts"), log=str(log), error=error)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    return result, log.read_text()


def test_a_rule_jobs_own_error_is_its_message_and_exit_status_1(tmp_path):
    result, log = run_rule_job(tmp_path, "StageError")
    assert result.returncode == 1
    assert "[contam sex-00] ERROR: sex-00_visits.ecsv is missing: rerun preprocess" in result.stderr
    assert "Traceback" not in result.stderr and "Traceback" not in log
    assert "rerun preprocess" in log and "failed after" in log
    # Any other error is a bug: Python's traceback, as before.
    result, log = run_rule_job(tmp_path, "KeyError")
    assert result.returncode == 1 and "Traceback" in result.stderr
