"""The stages' ECSV tables read back (wfsspipe.tables through the stages' readers)."""

from __future__ import annotations

import pytest
from astropy.table import Table

from wfsspipe.extract import COLUMNS, ExtractError, read_extract_table
from wfsspipe.preprocess import VISIT_COLUMNS, PreprocessError, read_visits


def test_empty_text_comes_back_as_empty_strings_not_masked(tmp_path):
    path = tmp_path / "vir-00_extract.ecsv"
    rows = [(1, 1.0, 2.0, 22.0, "extracted", "", "vir-00_00001.beams.fits", 2, "F150W"),
            (2, 1.1, 2.1, 27.0, "skipped", "fainter than the limit", "", 0, "")]  # fmt: skip
    Table(rows=rows, names=COLUMNS).write(path, format="ascii.ecsv")
    table = read_extract_table(path)
    assert list(table["reason"]) == ["", "fainter than the limit"]
    assert list(table["beams"]) == ["vir-00_00001.beams.fits", ""]
    assert not any(hasattr(table[name], "mask") for name in ("reason", "beams", "grisms"))


def test_a_table_without_a_column_names_the_file_and_the_rule(tmp_path):
    path = tmp_path / "vir-00_visits.ecsv"
    Table({name: ["x"] for name in VISIT_COLUMNS if name != "align_rms"}).write(path)
    with pytest.raises(PreprocessError, match=rf"{path} lacks columns \['align_rms'\]: rerun the "
                       "preprocess rule"):  # fmt: skip
        read_visits(path)
    path = tmp_path / "vir-00_extract.ecsv"
    Table({name: [1] for name in COLUMNS[:3]}).write(path)
    with pytest.raises(ExtractError, match="lacks columns.*'grisms'.*rerun the extract rule"):
        read_extract_table(path)
