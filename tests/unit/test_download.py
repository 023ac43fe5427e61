"""Download verification paths against the real synthetic archive server on 127.0.0.1."""

import threading

import numpy as np
import pytest
import requests
from astropy.io import fits
from wfsssim.archive import base_url, make_server

from wfsspipe.download import DownloadError, DownloadSpec, fetch
from wfsspipe.integrity import fits_problem

NAME = "jw01571001001_02101_00001_nis_uncal.fits"
TOKEN = "s3cr3t-token-value"


@pytest.fixture
def product(tmp_path):
    root = tmp_path / "archive"
    root.mkdir()
    hdus = fits.HDUList(
        [
            fits.PrimaryHDU(),
            fits.ImageHDU(np.arange(300_000, dtype=np.int32).reshape(600, 500), name="SCI"),
        ]
    )
    hdus.writeto(root / NAME, checksum=True)
    return root / NAME


@pytest.fixture
def archive(product):
    server = make_server(product.parent, token=TOKEN, slow_seconds=0.5)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def inject(server, *faults):
    url = base_url(server).split("/api")[0]
    requests.post(f"{url}/faults", json={NAME: list(faults)}, timeout=5).raise_for_status()


def stats(server):
    return requests.get(base_url(server).split("/api")[0] + "/stats", timeout=5).json()


def spec(server, tmp_path, **overrides):
    values = dict(
        uri=f"mast:JWST/product/{NAME}",
        output=tmp_path / "out" / NAME,
        archive_url=base_url(server),
        retries=4,
        timeout=2.0,
        backoff=0.0,
    )
    values.update(overrides)
    return DownloadSpec(**values)


def test_clean_download_is_byte_identical_and_carries_the_token(archive, product, tmp_path):
    out = fetch(spec(archive, tmp_path, expected_size=product.stat().st_size, token=TOKEN))
    assert out.read_bytes() == product.read_bytes()
    assert stats(archive)["authorized"][NAME] == 1
    assert not list(out.parent.glob("*.part"))


@pytest.mark.parametrize(
    "faults",
    [["503"], ["500", "503", "500"], ["truncate"], ["drop"], ["wrongsize"], ["drop", "truncate"]],
)
def test_faults_then_success(archive, product, tmp_path, faults):
    inject(archive, *faults)
    out = fetch(spec(archive, tmp_path))
    assert out.read_bytes() == product.read_bytes()
    assert stats(archive)["requests"][NAME] == len(faults) + 1


def test_dropped_connection_resumes_with_range(archive, product, tmp_path):
    inject(archive, "drop")
    fetch(spec(archive, tmp_path, expected_size=product.stat().st_size))
    # two requests: the first was cut after a third of the body, the second asked for the rest
    assert stats(archive)["requests"][NAME] == 2


def test_slow_response_past_timeout_is_retried(archive, product, tmp_path):
    inject(archive, "slow", "slow")
    out = fetch(spec(archive, tmp_path, timeout=0.2, retries=4))
    assert out.read_bytes() == product.read_bytes()


def test_size_disagreeing_with_table_is_kept_when_the_checksums_verify(
    archive, product, tmp_path, caplog
):
    # MAST's sizes are unreliable: a file whose every HDU's CHECKSUM/DATASUM verify is whole.
    wrong = product.stat().st_size + 2880
    with caplog.at_level("WARNING", logger="wfsspipe.download"):
        out = fetch(spec(archive, tmp_path, expected_size=wrong, retries=2))
    assert out.read_bytes() == product.read_bytes()
    assert stats(archive)["requests"][NAME] == 1  # no retry: the first copy was good
    assert f"the fields table says {wrong}" in caplog.text and "kept" in caplog.text


def test_size_disagreeing_with_table_without_checksums_fails_and_leaves_nothing(
    archive, product, tmp_path
):
    with fits.open(product) as hdus:  # the same file without CHECKSUM/DATASUM
        for hdu in hdus:
            del hdu.header["CHECKSUM"], hdu.header["DATASUM"]
        hdus.writeto(product, overwrite=True)
    wrong = product.stat().st_size + 2880
    with pytest.raises(DownloadError, match=r"table says .* no FITS checksums") as error:
        fetch(spec(archive, tmp_path, expected_size=wrong, retries=2))
    assert "gave up after 2 attempts" in str(error.value)
    assert not list((tmp_path / "out").iterdir())


def test_a_corrupted_byte_fails_the_checksum(archive, product, tmp_path):
    raw = bytearray(product.read_bytes())
    raw[-100] ^= 0xFF  # inside the SCI data: structure intact, DATASUM wrong
    product.write_bytes(bytes(raw))
    with pytest.raises(DownloadError, match=r"checksum mismatch"):
        fetch(spec(archive, tmp_path, expected_size=product.stat().st_size, retries=1))


def test_persistent_failure_gives_up_after_retries(archive, tmp_path):
    inject(archive, *["503"] * 5)
    with pytest.raises(DownloadError, match="HTTP 503"):
        fetch(spec(archive, tmp_path, retries=3))
    assert stats(archive)["requests"][NAME] == 3
    assert not list((tmp_path / "out").iterdir())


def test_missing_product_is_not_retried(archive, tmp_path):
    other = "jw01571001001_02101_00002_nis_uncal.fits"
    with pytest.raises(DownloadError, match="404"):
        fetch(
            spec(
                archive, tmp_path, uri=f"mast:JWST/product/{other}", output=tmp_path / "out" / other
            )
        )
    assert other not in stats(archive)["requests"]


def test_fits_problems_are_named(product, tmp_path):
    assert fits_problem(product) is None
    data = product.read_bytes()
    cut = tmp_path / "cut.fits"
    cut.write_bytes(data[: len(data) // 2 // 2880 * 2880])  # whole blocks, missing data
    assert "structure ends" in fits_problem(cut) or "not a readable" in fits_problem(cut)
    odd = tmp_path / "odd.fits"
    odd.write_bytes(data[:-100])
    assert "2880" in fits_problem(odd)
    flipped = bytearray(data)
    flipped[-5000] ^= 0xFF  # corrupt one data byte: the DATASUM no longer matches
    corrupt = tmp_path / "corrupt.fits"
    corrupt.write_bytes(bytes(flipped))
    assert "checksum" in fits_problem(corrupt)
