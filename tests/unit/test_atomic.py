"""Atomic products (wfsspipe.atomic): files and folders appear whole under their name or not at all."""

from __future__ import annotations

import os
import stat

import pytest

from wfsspipe.atomic import atomic_path, commit_folder, folder_product, work_folder, write_text


def _mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_commit_folder_replaces_an_existing_folder_in_one_step(tmp_path):
    final = tmp_path / "Prep"
    final.mkdir()
    (final / "old.fits").write_text("old")
    left_by_a_killed_job = tmp_path / ".Prep.tmp-killed"
    left_by_a_killed_job.mkdir()
    (tmp_path / ".Mosaic.tmp-other").mkdir()  # another product's: left alone
    built = work_folder(final)
    assert built.parent == tmp_path and built.name.startswith(".Prep.tmp-")
    assert not left_by_a_killed_job.exists()
    (built / "new.fits").write_text("new")
    commit_folder(built, final)
    assert sorted(p.name for p in final.iterdir()) == ["new.fits"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [".Mosaic.tmp-other", "Prep"]


def test_folder_products_are_as_readable_as_a_new_folder(tmp_path):
    """mkdtemp makes 0700; a committed product (the web map is read by browsers) must not be."""
    (tmp_path / "plain").mkdir()
    with folder_product(tmp_path / "Redshifts") as work:
        assert _mode(work) == 0o700
        (work / "table.csv").write_text("id\n1\n")
    assert _mode(tmp_path / "Redshifts") == _mode(tmp_path / "plain") == 0o777 & ~_umask()
    assert (tmp_path / "Redshifts" / "table.csv").read_text() == "id\n1\n"


def test_a_failed_folder_product_leaves_the_old_one_and_no_work_folder(tmp_path):
    final = tmp_path / "Contam"
    final.mkdir()
    (final / "manifest.ecsv").write_text("old")
    with pytest.raises(RuntimeError, match="model failed"), folder_product(final) as work:
        (work / "manifest.ecsv").write_text("half")
        raise RuntimeError("model failed")
    assert (final / "manifest.ecsv").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Contam"]


def test_a_file_is_renamed_into_place_only_when_the_block_succeeds(tmp_path):
    target = tmp_path / "sub" / "record.json"
    write_text(target, "first\n")
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_text("second, half written")
        raise ValueError("killed")
    assert target.read_text() == "first\n"
    assert sorted(p.name for p in target.parent.iterdir()) == ["record.json"]
