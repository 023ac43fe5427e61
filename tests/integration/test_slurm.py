"""The workflow through a real single-node SLURM (snakemake-executor-plugin-slurm).

Starts SLURM with tests/integration/slurm/start.sh (stopped by PID at the end), runs Stage 1 for
two exposures of the synthetic field through sbatch, and checks from SLURM's own records
(jobcomp/filetxt) that the jobs ran there with the memory, CPUs and time limit the rules and the
profile ask for; one exposure is given too little memory on purpose (config stage1.mem_factor),
is killed by SLURM, and its retry comes back with 50% more memory and succeeds. The products
equal those of a local run of the same exposures (its own, not the session build's: this module
then runs beside the build instead of after it, on the other pytest-xdist worker).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from support import TEST_TOKEN, TEST_TOKEN_ENV, make_workdir

ROOT = Path(__file__).resolve().parents[2]
SLURM = ROOT / "tests" / "integration" / "slurm"
SNAKEMAKE = Path(sys.executable).parent / "snakemake"
sys.path.insert(0, str(ROOT / "workflow" / "scripts"))

from wfsspipe.resources import stage1_mem_mb  # noqa: E402

pytestmark = [pytest.mark.integration, pytest.mark.slow]
STARVED = 0.6  # x the normal request: below Stage 1's peak, while 1.5 x this is above it


@pytest.fixture(scope="module")
def slurm(tmp_path_factory):
    state = tmp_path_factory.mktemp("slurm")
    started = subprocess.run([SLURM / "start.sh", state], capture_output=True, text=True)
    if started.returncode:
        subprocess.run([SLURM / "stop.sh", state])
        pytest.fail(f"SLURM did not start:\n{started.stdout}\n{started.stderr}")
    yield (
        state,
        dict(os.environ, SLURM_CONF=str(state / "slurm.conf"), **{TEST_TOKEN_ENV: TEST_TOKEN}),
    )
    subprocess.run([SLURM / "stop.sh", state])


def run(
    workdir: Path, env: dict, *args, overlay: dict | None = None
) -> subprocess.CompletedProcess:
    configfiles = [ROOT / "config/config.yaml", workdir / "config.yaml"]
    if overlay:
        configfiles.append(workdir / "overlay.yaml")
        configfiles[-1].write_text(yaml.safe_dump(overlay))
    command = [SNAKEMAKE, "--snakefile", ROOT / "workflow/Snakefile", "--directory", workdir,
               "--configfile", *configfiles, *args]  # fmt: skip
    return subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, env=env, timeout=900
    )


def jobcomp(state: Path) -> dict[int, dict[str, str]]:
    """SLURM's completion records by job id."""
    records = {}
    for line in (state / "jobcomp.txt").read_text().splitlines():
        fields = dict(re.findall(r"(\w+)=(\S*)", line))
        records[int(fields["JobId"])] = fields
    return records


def slurm_jobs(workdir: Path, exposure: str) -> list[int]:
    """Job ids the executor submitted for the stage1 job of one exposure, in order."""
    logs = workdir / ".snakemake" / "slurm_logs" / "rule_stage1"
    return sorted(int(p.stem) for p in logs.rglob("*.log") if exposure in str(p))


def test_stage1_through_slurm_with_an_oom_retry(slurm, synthetic_field, archive_server, tmp_path):
    state, env = slurm
    workdir = make_workdir(tmp_path / "slurm-run", synthetic_field, archive_server)
    rows = yaml.safe_load((workdir / "config.yaml").read_text())
    table = __import__("pandas").read_csv(rows["fields_csv"])
    normal, starved = table.iloc[0], table.iloc[2]
    rate = {
        r["obs_id"]: workdir / "FIELDS" / r["field"] / "RATE" / f"{r['obs_id']}_rate.fits"
        for r in (normal, starved)
    }

    first = run(workdir, env, "--workflow-profile", SLURM / "profile", "--", rate[normal["obs_id"]])
    assert first.returncode == 0, first.stderr[-4000:]
    second = run(
        workdir,
        env,
        "--workflow-profile",
        SLURM / "profile",
        "--",
        rate[starved["obs_id"]],
        overlay={"resources": {"stage1_mem_factor": STARVED}},
    )
    assert second.returncode == 0, second.stderr[-4000:]

    records = jobcomp(state)
    size_mb = {
        r["obs_id"]: (workdir / "FIELDS" / r["field"] / "UNCAL" / r["filename"]).stat().st_size
        / 1e6
        for r in (normal, starved)
    }

    # The normal exposure: one job, done by SLURM, with the rule's memory and the profile's time.
    (job,) = slurm_jobs(workdir, normal["obs_id"])
    record = records[job]
    assert record["JobState"] == "COMPLETED" and record["NodeList"]
    assert f"mem={stage1_mem_mb(size_mb[normal['obs_id']])}M" in record["Tres"]
    assert "cpu=1," in record["Tres"] and record["TimeLimit"] == "90"

    # The starved exposure: killed for memory, then retried with 1.5x and completed.
    attempts = slurm_jobs(workdir, starved["obs_id"])
    assert len(attempts) == 2, attempts
    killed, retried = (records[j] for j in attempts)
    starved_mb = [stage1_mem_mb(size_mb[starved["obs_id"]], attempt, STARVED) for attempt in (1, 2)]
    assert starved_mb[1] == pytest.approx(1.5 * starved_mb[0], abs=1)
    assert (
        killed["JobState"] in ("FAILED", "OUT_OF_MEMORY")
        and f"mem={starved_mb[0]}M" in killed["Tres"]
    )
    assert retried["JobState"] == "COMPLETED" and f"mem={starved_mb[1]}M" in retried["Tres"]
    killed_log = (workdir / ".snakemake" / "slurm_logs" / "rule_stage1").rglob(f"{attempts[0]}.log")
    assert "exceeded memory limit" in next(killed_log).read_text()

    # Same products as a local run of the same exposures (Stage 1 is deterministic given the
    # UNCAL and references; tests/integration/test_interrupts.py).
    local = make_workdir(tmp_path / "local-run", synthetic_field, archive_server)
    local_rates = [
        local / "FIELDS" / r["field"] / "RATE" / f"{r['obs_id']}_rate.fits"
        for r in (normal, starved)
    ]
    done = run(local, env, "--cores", "2", "--", *local_rates)
    assert done.returncode == 0, done.stderr[-4000:]
    for slurm_rate, local_rate in zip(rate.values(), local_rates):
        for extension in ("SCI", "ERR", "DQ"):
            assert np.array_equal(
                fits.getdata(slurm_rate, extension),
                fits.getdata(local_rate, extension),
                equal_nan=True,
            )


def test_test_profile_mirrors_the_example():
    example = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    test = yaml.safe_load((SLURM / "profile" / "config.yaml").read_text())
    for key in (
        "executor",
        "retries",
        "rerun-incomplete",
        "keep-going",
        "set-resources",
        "resources",
    ):
        assert test[key] == example[key], key
    assert set(example["default-resources"]) == set(test["default-resources"]) | {"slurm_account"}
