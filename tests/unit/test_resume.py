"""The store of finished sources that lets extract and zfit resume (wfsspipe.resume)."""

from wfsspipe.resume import SourceStore, digest, store_folder


def test_store_keeps_rows_and_files_and_restores_them(tmp_path):
    product = tmp_path / "Redshifts"
    folder = store_folder(product)
    assert folder == tmp_path / ".Redshifts.done"
    work = tmp_path / "work"
    work.mkdir()
    (work / "f-00_00001.full.fits").write_text("fit 1")
    (work / "f-00_00001.full.png").write_text("png 1")
    store = SourceStore(folder, "key-a")
    store.keep(1, {"id": 1, "status": "ok", "seconds": 2.5}, list(work.iterdir()))
    (folder / "2").mkdir()  # files of source 2 without its row: not finished
    again = SourceStore(folder, "key-a")
    assert again.done() == {1: {"id": 1, "status": "ok", "seconds": 2.5}}
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    restored = again.restore(1, fresh)
    assert sorted(p.name for p in restored) == ["f-00_00001.full.fits", "f-00_00001.full.png"]
    assert (fresh / "f-00_00001.full.fits").read_text() == "fit 1"
    (work / "f-00_00001.full.fits").unlink()  # the work folder going away keeps the store's
    assert (folder / "1" / "f-00_00001.full.fits").read_text() == "fit 1"
    again.clear()
    assert not folder.exists()


def test_a_different_key_or_a_broken_row_starts_over(tmp_path):
    folder = tmp_path / ".Redshifts.done"
    store = SourceStore(folder, "key-a")
    store.keep(1, {"id": 1}, [])
    (folder / "3.json").write_text('{"id": 3, "stat')  # a torn write cannot be a row
    assert set(SourceStore(folder, "key-a").done()) == {1}
    assert SourceStore(folder, "key-b").done() == {}
    assert (folder / "KEY").read_text() == "key-b"


def test_digest_follows_settings_and_inputs(tmp_path):
    beams = tmp_path / "a.beams.fits"
    beams.write_text("beams")
    first = digest({"dz": [0.01, 0.0005]}, [beams])
    assert first == digest({"dz": [0.01, 0.0005]}, [beams])
    assert first != digest({"dz": [0.02, 0.0005]}, [beams])
    beams.write_text("other beams")
    assert first != digest({"dz": [0.01, 0.0005]}, [beams])
