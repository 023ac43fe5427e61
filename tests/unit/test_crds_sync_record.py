"""What Stage 1's memory request reads from a CRDS sync record: the dark's in-memory size."""

from __future__ import annotations

import json

import numpy as np
import pytest
from astropy.io import fits

from wfsspipe.crds_sync import (
    STAGE1_FITTED_REFERENCE_MB,
    STAGE1_REFERENCE_COSTS,
    fits_data_mb,
    stage1_reference_mb,
)


def test_fits_data_mb_counts_tile_compressed_images_uncompressed(tmp_path):
    data = np.zeros((5, 256, 512), np.float32)  # compresses to almost nothing
    path = tmp_path / "dark.fits"
    fits.HDUList(
        [fits.PrimaryHDU(), fits.CompImageHDU(data, name="SCI", compression_type="GZIP_2")]
    ).writeto(path)
    assert path.stat().st_size < data.nbytes / 20
    assert fits_data_mb(path) == pytest.approx(data.nbytes / 1e6)


def test_stage1_reference_mb_from_the_record(tmp_path):
    record = tmp_path / "crds_references.json"
    assert stage1_reference_mb(None, "jw1") == 0.0  # crds.sync off: no record, nothing added
    with pytest.raises(FileNotFoundError):  # Snakemake: "input not there yet", evaluated later
        stage1_reference_mb(record, "jw1")
    files = {"big_dark.fits": {"data_mb": 4000.0}, "small_dark.fits": {"data_mb": 335.5}}
    exposures = {
        "jw1": {"references": {"dark": "big_dark.fits", "gain": "g.fits", "ipc": "N/A"}},
        "jw2": {"references": {"dark": "small_dark.fits"}},
    }
    record.write_text(json.dumps({"files": files, "exposures": exposures}))
    cost, fitted = STAGE1_REFERENCE_COSTS["dark"], STAGE1_FITTED_REFERENCE_MB["dark"]
    assert stage1_reference_mb(record, "jw1") == pytest.approx(cost * (4000 - fitted))
    assert stage1_reference_mb(record, "jw2") == 0.0  # the base was fitted with such a dark
    assert stage1_reference_mb(record, "not-synced") == 0.0
