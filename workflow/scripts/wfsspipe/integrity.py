"""File integrity: is a FITS file whole, and the SHA-256 of a file.

Used wherever a file is accepted or recorded: downloads (:mod:`wfsspipe.download`), Stage 1's
check of its UNCAL input, the grizli configuration files pinned by hash
(:mod:`wfsspipe.grizli_config`), the provenance record and the synthetic archive's checksums.
"""

from __future__ import annotations

import hashlib
import os
import warnings
from pathlib import Path


def has_checksums(path: str | os.PathLike) -> bool:
    """Every HDU carries CHECKSUM and DATASUM (whether they verify is :func:`fits_problem`'s)."""
    from astropy.io import fits

    with fits.open(path, memmap=True) as hdus:
        return all("CHECKSUM" in h.header and "DATASUM" in h.header for h in hdus)


def fits_problem(path: str | os.PathLike) -> str | None:
    """What is wrong with the FITS file at ``path`` (None when it is whole): its size in whole
    2880-byte blocks, a structure that ends where the file does, and CHECKSUM/DATASUM where the
    HDUs carry them."""
    from astropy.io import fits

    path = Path(path)
    size = path.stat().st_size
    if size == 0 or size % 2880:
        return f"size {size} is not a whole number of 2880-byte FITS blocks (truncated?)"
    try:
        # The structure first (headers only): a truncated file is named as such.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with fits.open(path, memmap=True) as hdus:
                end = 0
                for hdu in hdus:
                    info = hdu.fileinfo()
                    end = info["datLoc"] + info["datSpan"]
    except Exception as error:  # astropy raises OSError, VerifyError, ValueError...
        return f"not a readable FITS file ({type(error).__name__}: {error})"
    if end != size:
        return f"FITS structure ends at byte {end} but the file has {size} bytes"
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            # checksum=True verifies CHECKSUM/DATASUM where the file has them (MAST products do)
            with fits.open(path, memmap=True, checksum=True) as hdus:
                for hdu in hdus:
                    hdu.fileinfo()
    except Exception as error:
        return f"not a readable FITS file ({type(error).__name__}: {error})"
    bad_sums = [str(w.message) for w in caught if "sum" in str(w.message).lower()]
    if bad_sums:
        return f"checksum mismatch: {bad_sums[0]}"
    return None


def sha256_of(path: str | os.PathLike) -> str:
    """Hex SHA-256 of a file, read in 4 MB blocks (products are hundreds of MB)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()
