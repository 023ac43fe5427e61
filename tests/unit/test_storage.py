"""products.keep: the lossless FITS compression and the plain copies grizli reads (seconds)."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits

from wfsspipe.storage import (
    StorageError,
    check_keep,
    compress_fits,
    compress_fits_primary,
    drop_visit_intermediates,
    expanded_copy,
    image_header,
    is_compressed,
    plain_inputs,
    write_image,
)


def noisy(shape=(256, 300), seed=1):
    data = np.random.default_rng(seed).normal(1.0, 0.3, shape).astype(">f4")
    data[3, 7] = np.nan
    data[10, :] = np.inf
    return data


def exposure(path):
    """A prepared-exposure-like file: header-only primary, float, uint16 DQ and a table."""
    primary = fits.PrimaryHDU(header=fits.Header([("TELESCOP", "JWST"), ("GSKY101", 0.75)]))
    sci = fits.ImageHDU(noisy(), name="SCI", header=fits.Header([("MDRIZSKY", 0.1)]))
    dq = fits.ImageHDU((np.arange(256 * 300) % 9).reshape(256, 300).astype(np.uint16), name="DQ")
    table = fits.BinTableHDU.from_columns([fits.Column("x", "E", array=[1.0, 2.0])], name="ASDF")
    fits.HDUList([primary, sci, dq, table]).writeto(path)
    return {h.name: None if h.data is None else h.data.copy() for h in fits.open(path)}


def test_compressed_exposure_reads_back_bit_for_bit(tmp_path):
    path = tmp_path / "x_rate.fits"
    original = exposure(path)
    size = path.stat().st_size
    compress_fits(path)
    assert is_compressed(path) and path.stat().st_size < size
    assert not list(tmp_path.glob(".tmp-*"))
    with fits.open(path) as hdul:
        assert [h.name for h in hdul] == ["PRIMARY", "SCI", "DQ", "ASDF"]
        assert isinstance(hdul["SCI"], fits.CompImageHDU) and ("SCI", 1) in hdul
        assert hdul[0].header["GSKY101"] == 0.75 and hdul["SCI"].header["MDRIZSKY"] == 0.1
        assert np.array_equal(hdul["SCI"].data, original["SCI"], equal_nan=True)
        assert hdul["SCI"].data.dtype == np.float32
        assert hdul["DQ"].data.dtype == np.uint16 and np.array_equal(
            hdul["DQ"].data, original["DQ"]
        )
        assert list(hdul["ASDF"].data["x"]) == [1.0, 2.0]
    compress_fits(path)  # already compressed: left alone
    plain = expanded_copy(path, tmp_path / "plain" / "x_rate.fits")
    with fits.open(plain) as hdul:
        assert not any(isinstance(h, fits.CompImageHDU) for h in hdul)
        assert np.array_equal(hdul["SCI"].data, original["SCI"], equal_nan=True)
        assert hdul[0].header["TELESCOP"] == "JWST"


def test_compressed_mosaic_goes_back_to_the_primary_for_grizli(tmp_path):
    path = tmp_path / "f-ir_drz_sci.fits"
    mostly_empty = np.zeros((400, 500), np.float32)
    mostly_empty[100:140, 200:260] = noisy((40, 60))
    header = fits.Header([("CRVAL1", 150.0), ("PHOTPLAM", 15000.0)])
    fits.PrimaryHDU(mostly_empty, header=header).writeto(path)
    size = path.stat().st_size
    compress_fits_primary(path)
    assert is_compressed(path) and path.stat().st_size < size / 5
    assert image_header(path)["NAXIS1"] == 500 and image_header(path)["PHOTPLAM"] == 15000.0
    assert np.array_equal(fits.getdata(path), mostly_empty, equal_nan=True)
    (plain,) = plain_inputs([path], tmp_path / "work")
    with fits.open(plain) as hdul:  # grizli reads [0]
        assert len(hdul) == 1 and hdul[0].header["PHOTPLAM"] == 15000.0
        assert np.array_equal(hdul[0].data, mostly_empty, equal_nan=True)
    other = tmp_path / "plain.fits"
    fits.PrimaryHDU(mostly_empty).writeto(other)
    assert plain_inputs([other], tmp_path / "work") == [other]  # nothing to expand: no copy


@pytest.mark.parametrize("compress", [True, False])
def test_written_image_has_its_header_either_way(tmp_path, compress):
    path = tmp_path / "m_model.fits"
    write_image(path, noisy(), fits.Header([("BUNIT", "DN/s")]), compress=compress, name="MODEL")
    assert is_compressed(path) is compress
    assert image_header(path)["BUNIT"] == "DN/s" and image_header(path)["NAXIS2"] == 256
    assert np.array_equal(fits.getdata(path), noisy(), equal_nan=True)


def test_visit_intermediates_and_keep_values(tmp_path):
    for name in ("v1_drz_sci.fits", "v1_drz_wht.fits", "v1_bkg.fits", "v1_seg.fits",
                 "v1.cat.fits", "v1_wcs.log", "jw1_rate.fits", "v2_drz_sci.fits"):  # fmt: skip
        (tmp_path / name).write_text("x")
    removed = drop_visit_intermediates(tmp_path, ["v1", "v1"])
    assert sorted(p.name for p in removed) == [
        "v1_bkg.fits", "v1_drz_sci.fits", "v1_drz_wht.fits", "v1_seg.fits"
    ]  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "jw1_rate.fits", "v1.cat.fits", "v1_wcs.log", "v2_drz_sci.fits"
    ]  # fmt: skip
    assert check_keep("science") == "science" and check_keep("all") == "all"
    with pytest.raises(StorageError, match="products.keep is 'sciense'"):
        check_keep("sciense")
