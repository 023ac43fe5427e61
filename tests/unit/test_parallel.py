"""The per-source fan-out shared by extract and zfit (wfsspipe.parallel.run_sources)."""

import os

import pytest

from wfsspipe.parallel import run_sources
from wfsspipe.resume import SourceStore, store_folder


def _write_product(shared, field_name, source_id, settings):
    """A worker like extract's and zfit's: uses what the parent loaded, writes in the work
    folder (the current one in a grizli session; here the folder the settings name)."""
    if source_id in settings["fail"]:
        raise ValueError(f"source {source_id} is broken")
    path = os.path.join(settings["work"], f"{field_name}_{source_id:05d}.full.fits")
    with open(path, "w") as out:
        out.write(f"{shared['model']} {source_id} {os.getpid()}")
    return {"id": source_id, "status": "ok", "reason": ""}


@pytest.mark.parametrize("processes", [1, 2])
def test_rows_files_and_failures_are_kept_as_sources_finish(tmp_path, processes):
    work = tmp_path / "work"
    work.mkdir()
    store = SourceStore(store_folder(tmp_path / "Redshifts"), "key")
    shared = {"model": "loaded-once"}
    settings = {"work": str(work), "fail": {3}}
    rows = list(
        run_sources(
            _write_product, shared, "abc-00", [1, 2, 3, 4], settings,
            stage="zfit", store=store, work=work, processes=processes,
        )
    )  # fmt: skip
    by_id = {row["id"]: row for row in rows}
    assert sorted(by_id) == [1, 2, 3, 4]
    assert by_id[3]["status"] == "failed"
    assert by_id[3]["reason"] == "ValueError: source 3 is broken"
    assert all(row["seconds"] >= 0 for row in rows)
    # each finished source is in the store (row and files), the failed one with its row only
    done = SourceStore(store_folder(tmp_path / "Redshifts"), "key").done()
    assert {i: row["status"] for i, row in done.items()} == {1: "ok", 2: "ok", 3: "failed", 4: "ok"}
    kept = (store.folder / "2" / "abc-00_00002.full.fits").read_text().split()
    assert kept[:2] == ["loaded-once", "2"]
    pids = {int((work / f"abc-00_{i:05d}.full.fits").read_text().split()[2]) for i in (1, 2, 4)}
    # forked workers when asked for more than one process, the job's own process otherwise
    assert (os.getpid() in pids) == (processes == 1)
    assert not list((store.folder / "3").iterdir())
