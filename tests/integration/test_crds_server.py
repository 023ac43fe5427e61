"""CRDS sync with the real crds client against a local server speaking its protocol, then
Stage 1 offline from the synced cache.

One lean synthetic field (one filter) and one CRDS server (resources/scripts/crdsServer.py,
serving the field's synthetic context) per module; each sync fills its own fresh cache through the
``crds_sync`` rule, with ``crds.sync: true`` and ``crds.server_url`` pointing at the server.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from astropy.io import fits
from crds_server_process import CrdsServer
from support import PYTHON, ArchiveServer
from wfsssim import crdscache

from .helpers import ROOT, Injection, Workflow, make_workflow

pytestmark = [pytest.mark.integration]

CONTEXT = crdscache.context_name()
DARK = crdscache.reference_name("dark")
PARS_JUMP = crdscache.reference_name("pars-jumpstep")

INJECTED = [
    Injection(
        "CRDS server lists a step-parameter file but cannot deliver it",
        1,
        "crds_sync fails naming exposure, type and file; no record",
        "test_crds_server.py",
    ),
    Injection(
        "CRDS server delivers a reference with a wrong sha1",
        1,
        "crds_sync fails naming the file and both checksums; no record",
        "test_crds_server.py",
    ),
    Injection(
        "corrupt reference file (same size) in the synced cache",
        1,
        "detected by sha1, fetched again, record lists the good file",
        "test_crds_server.py",
    ),
]


@pytest.fixture(scope="module")
def lean_field(synthetic_field) -> Path:
    """The session's synthetic field; the tests use its F150W exposures (``field_rows`` of
    tests/integration/conftest.py): simulating a field of their own would only cost time."""
    return synthetic_field


@pytest.fixture(scope="module")
def servers(lean_field, tmp_path_factory):
    workdir = tmp_path_factory.mktemp("crds_servers")
    archive = ArchiveServer(lean_field / "archive", workdir)
    crds = CrdsServer(lean_field / "crds_cache", workdir)
    yield archive, crds
    crds.stop()
    archive.stop()


def syncing_workflow(folder: Path, lean_field, servers, rows) -> Workflow:
    """A workflow folder whose CRDS cache starts empty and is synced from the server."""
    archive, crds = servers
    workflow = make_workflow(folder, rows, lean_field, archive.download_url)
    config = yaml.safe_load((folder / "config.yaml").read_text())
    config["crds"] = {
        "path": str(folder / "crds_cache"),
        "context": CONTEXT,
        "server_url": crds.url,
        "sync": True,
    }
    (folder / "config.yaml").write_text(yaml.safe_dump(config))
    return workflow


def record_path(workflow: Workflow) -> Path:
    return workflow.fields_dir / workflow.rows[0]["field"] / "crds_references.json"


def sync_log(workflow: Workflow) -> str:
    return (workflow.fields_dir / workflow.rows[0]["field"] / "logs/crds_sync.log").read_text()


@pytest.fixture(scope="module")
def synced(lean_field, servers, field_rows, tmp_path_factory):
    """One sync into a fresh cache, then Stage 1 of one exposure; the server's counters before
    and after Stage 1."""
    _, crds = servers
    workflow = syncing_workflow(
        tmp_path_factory.mktemp("crds_synced"), lean_field, servers, field_rows
    )
    result = workflow.run(record_path(workflow), label="sync")
    assert result.returncode == 0, result.output[-4000:]
    before = crds.stats()
    row = next(r for r in field_rows if r["exp_type"] == "NIS_WFSS")
    result = workflow.run(workflow.rate(row), label="stage1")
    assert result.returncode == 0, result.output[-4000:]
    return workflow, row, before, crds.stats()


def test_sync_fills_a_fresh_cache_and_stage1_runs_offline(synced, lean_field):
    from crds.core import utils

    workflow, row, before, after = synced
    record = json.loads(record_path(workflow).read_text())
    cache = workflow.folder / "crds_cache"
    assert record["context"] == CONTEXT and record["cache"] == str(cache)
    # every exposure of the field, read from its own header, with Stage 1 and grizli types
    assert set(record["exposures"]) == {r["obs_id"] for r in workflow.rows}
    for exposure, entry in record["exposures"].items():
        refs = entry["references"]
        for reftype in ("mask", "saturation", "superbias", "linearity", "dark", "gain",
                        "readnoise", "trapdensity", "trappars", "persat", "flat", "distortion"):  # fmt: skip
            assert refs[reftype].startswith("jwst_niriss_"), (exposure, reftype)
        # Detector1 prefetches these for NIRISS; the synthetic context has them N/A
        for reftype in ("ipc", "refpix", "sirskernel", "rscd", "reset", "pars-detector1pipeline"):
            assert refs[reftype] == "N/A", (exposure, reftype)
        assert refs["pars-jumpstep"] == PARS_JUMP
        wfss = "grizli_rewritten" in entry
        assert (refs["bkg"] != "N/A") == wfss and (refs["photom"] == "N/A") == wfss
    # each file: in the fresh cache, with the server's size and sha1 (the served originals')
    served = {p.name: p for p in (lean_field / "crds_cache").rglob("*") if p.is_file()}
    assert DARK in record["files"] and PARS_JUMP in record["files"]
    for name, entry in {**record["files"], **record["mappings"]}.items():
        path = Path(entry["path"])
        assert path.is_relative_to(cache) and path.is_file(), name
        assert entry["size"] == path.stat().st_size == served[name].stat().st_size
        assert entry["sha1sum"] == utils.checksum(path) == utils.checksum(served[name])
    assert "operational_context" in (cache / "config/jwst/server_config").read_text()
    # the sync asked the server; Stage 1 did not contact it at all
    assert before["rpc"].get("get_best_references", 0) >= 2 * len(workflow.rows)
    assert before["downloads"][DARK] == 1
    assert after == before
    with fits.open(workflow.rate(row)) as rate:
        header = rate[0].header
        assert header["CRDS_CTX"] == CONTEXT
        assert header["R_DARK"] == f"crds://{DARK}"


def test_stage1_memory_request_counts_the_dark(synced):
    """The stage1 job asked for the UNCAL's memory plus what the dark holds beyond the fitted
    base, from its in-memory size in the record (tiles decompressed), not its size on disk."""
    from wfsspipe.crds_sync import stage1_reference_extra_mb
    from wfsspipe.resources import grow, stage1_mem_mb

    workflow, row, _, _ = synced
    record = json.loads(record_path(workflow).read_text())
    dark = record["files"][DARK]
    assert dark["data_mb"] > 5 * dark["size"] / 1e6  # GZIP tiles: far smaller on disk
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    uncal_mb = workflow.uncal(row).stat().st_size / 1e6
    base = stage1_mem_mb(uncal_mb, 1, config["resources"]["stage1_mem_factor"])
    expected = base + grow(stage1_reference_extra_mb({"dark": dark["data_mb"]}), 1, minimum=0)
    printed = (workflow.folder / "runs/02-stage1.txt").read_text()
    assert f"mem_mb={expected}," in printed, re.findall(r"mem_mb=\S+", printed)


def test_step_parameters_from_pars_file_reach_stage1(synced):
    workflow, row, _, _ = synced
    log = workflow.log("stage1", row).read_text()
    cache = workflow.folder / "crds_cache"
    assert f"PARS-JUMPSTEP parameters found: {cache}/references/jwst/niriss/{PARS_JUMP}" in log
    # stpipe logs the pipeline's parameters, one block per step: jump's has the file's value
    # (jwst's default is 6.0) and the workflow's own rejection_threshold (config wins over CRDS)
    jump = re.search(r"\n(\s+)jump:\n((?:\1\s+.*\n)+)", log)
    assert jump, "no jump parameters in the Stage 1 log"
    value = crdscache.PARS_JUMP_THREE_GROUP_THRESHOLD
    assert re.search(rf"^\s+three_group_rejection_threshold: {value}$", jump[2], re.M)
    assert re.search(r"^\s+rejection_threshold: 4.0$", jump[2], re.M)


def test_server_missing_a_file_fails_the_sync_and_writes_no_record(
    lean_field, servers, field_rows, tmp_path
):
    _, crds = servers
    workflow = syncing_workflow(tmp_path / "missing", lean_field, servers, field_rows)
    crds.faults(missing=[PARS_JUMP])
    try:
        result = workflow.run(record_path(workflow), label="missing")
    finally:
        crds.faults()
    assert result.returncode != 0
    assert not record_path(workflow).exists()
    log = sync_log(workflow)
    for row in field_rows:  # every exposure, with the type and the file
        assert f"{row['obs_id']}: pars-jumpstep: {PARS_JUMP}: it was not downloaded" in log
    assert "no record written" in log
    assert not (workflow.folder / "crds_cache/references/jwst/niriss" / PARS_JUMP).exists()


def test_server_delivering_a_wrong_checksum_fails_the_sync(
    lean_field, servers, field_rows, tmp_path
):
    _, crds = servers
    workflow = syncing_workflow(tmp_path / "corrupt", lean_field, servers, field_rows[:1])
    crds.faults(corrupt=[DARK])
    try:
        result = workflow.run(record_path(workflow), label="corrupt")
    finally:
        crds.faults()
    assert result.returncode != 0
    assert not record_path(workflow).exists()
    log = sync_log(workflow)
    assert f"{field_rows[0]['obs_id']}: dark: {DARK}:" in log
    assert "has sha1" in log and "the server lists" in log


def test_corrupt_cached_file_is_detected_and_fetched_again(synced):
    from crds.core import utils

    workflow, _, _, _ = synced
    record = json.loads(record_path(workflow).read_text())
    dark = Path(record["files"][DARK]["path"])
    data = bytearray(dark.read_bytes())
    data[len(data) // 2] ^= 0xFF  # same size: only the checksum can tell
    dark.write_bytes(bytes(data))
    assert utils.checksum(dark) != record["files"][DARK]["sha1sum"]
    record_path(workflow).unlink()
    result = workflow.run(record_path(workflow), label="resync")
    assert result.returncode == 0, result.output[-4000:]
    log = sync_log(workflow)
    assert f"cached {DARK} does not match CRDS" in log and "fetching it again" in log
    assert utils.checksum(dark) == record["files"][DARK]["sha1sum"]
    assert json.loads(record_path(workflow).read_text())["files"][DARK] == record["files"][DARK]


def test_server_answers_the_crds_client_protocol(servers, lean_field, tmp_path):
    """The client's own calls: server info, best references, file info, and an unknown context."""
    _, crds = servers
    code = f"""
import os, json
os.environ.update(CRDS_SERVER_URL={crds.url!r}, CRDS_MODE="remote", CRDS_PATH=os.getcwd())
from crds.client import api
api.set_crds_server({crds.url!r})
info = api.get_server_info()
best = api.get_best_references({CONTEXT!r}, {{"META.INSTRUMENT.NAME": "NIRISS",
    "META.INSTRUMENT.DETECTOR": "NIS", "META.SUBARRAY.NAME": "FULL",
    "META.EXPOSURE.TYPE": "NIS_IMAGE", "META.OBSERVATION.DATE": "2024-01-01",
    "META.OBSERVATION.TIME": "00:00:00"}}, ["gain", "ipc", "nonsense"])
file_info = api.get_file_info({CONTEXT!r}, {DARK!r})
try:
    api.get_mapping_names("jwst_0001.pmap")
    unknown = "answered"
except Exception as error:
    unknown = str(error)
print(json.dumps([info["operational_context"], best, file_info["size"], unknown]))
"""
    out = subprocess.run(
        [PYTHON, "-c", code], capture_output=True, text=True, timeout=120, check=True,
        cwd=tmp_path,
    )  # fmt: skip
    context, best, size, unknown = json.loads(out.stdout.strip().splitlines()[-1])
    assert context == CONTEXT
    assert best["gain"] == crdscache.reference_name("gain") and best["ipc"] == "NOT FOUND n/a"
    assert best["nonsense"].startswith("NOT FOUND") and "nonsense" in best["nonsense"]
    served = crdscache.reference_path(lean_field / "crds_cache", "dark")
    assert int(size) == served.stat().st_size
    assert "unknown context 'jwst_0001.pmap'" in unknown


def test_environment_of_the_jobs_never_names_the_server(synced):
    """Jobs get CRDS_MODE=local and a serverless URL whatever crds.server_url says."""
    sys.path.insert(0, str(ROOT / "workflow/scripts"))
    from wfsspipe.crds_sync import job_environment

    workflow, _, _, _ = synced
    config = yaml.safe_load((workflow.folder / "config.yaml").read_text())["crds"]
    env = job_environment(config["path"], config["context"])
    assert env["CRDS_MODE"] == "local" and "serverless" in env["CRDS_SERVER_URL"]
    assert os.path.isdir(env["CRDS_PATH"])
