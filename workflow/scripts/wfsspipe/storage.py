"""What a field keeps on disk (``products.keep``) and the FITS compression that shrinks it.

``science`` (the default) keeps every product a user or a later rule or rerun reads, smaller:

- grizli's visit-level drizzles in ``Prep/`` (``{visit}_drz_sci/_drz_wht/_bkg/_seg.fits``, for
  inspection only: no later stage reads them, a rerun of preprocess writes them again) are not
  kept;
- the prepared exposures in ``Prep/`` (what mosaic and contam read, also on their reruns), the
  ``GrismFLT`` files in ``Contam/`` (what extract loads) and the drizzled model images are
  tile-compressed, **losslessly** (GZIP with byte shuffling and no quantisation: every pixel,
  NaNs included, reads back bit for bit; astropy and grizli open them by extension name as
  before). The model images are mostly empty sky and shrink about 60 times; noisy float data
  much less (prepared exposures by 30-40 %, GrismFLT files by two thirds).

``all`` keeps grizli's files as grizli wrote them.

Compressed images are extensions (a FITS primary HDU cannot be compressed): read them by name
or with ``fits.getdata(path)`` (the first HDU with data), not ``hdul[0].data``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .atomic import atomic_path
from .layout import VISIT_INTERMEDIATES

KEEP_CHOICES = ("science", "all")
DEFAULT_KEEP = "science"
COMPRESSION = "GZIP_2"  # gzip of byte-shuffled pixels: lossless for floats without quantisation
# Suffixes of grizli's visit-level images in Prep/ that no later stage reads.


class StorageError(ValueError):
    """A bad ``products.keep`` value."""


def check_keep(keep: str) -> str:
    if keep not in KEEP_CHOICES:
        raise StorageError(
            f"products.keep is {keep!r}; expected one of {', '.join(map(repr, KEEP_CHOICES))}"
        )
    return keep


def compressed_image(data: np.ndarray, header=None, name: str | None = None):
    """A lossless tile-compressed image extension of ``data``."""
    from astropy.io import fits

    return fits.CompImageHDU(
        data, header=header, name=name, compression_type=COMPRESSION, quantize_level=0.0
    )


def is_compressed(path: str | os.PathLike) -> bool:
    from astropy.io import fits

    with fits.open(path) as hdul:
        return any(isinstance(hdu, fits.CompImageHDU) for hdu in hdul)


def compress_fits(path: str | os.PathLike) -> None:
    """Rewrite ``path`` (atomically) with every image extension losslessly tile-compressed.

    The primary header and non-image extensions are kept as they are; data read back equal
    (same values and dtype kind; byte order becomes native)."""
    from astropy.io import fits

    path = Path(path)
    with fits.open(path) as hdul:
        if any(isinstance(hdu, fits.CompImageHDU) for hdu in hdul):
            return
        primary = hdul[0]
        out = [primary.copy()]
        if primary.data is not None:  # an image in the primary: keep it so (readers use [0])
            out = [fits.PrimaryHDU(primary.data, header=primary.header)]
        for hdu in hdul[1:]:
            if isinstance(hdu, fits.ImageHDU) and hdu.data is not None:
                out.append(compressed_image(hdu.data, hdu.header, hdu.name))
            else:
                out.append(hdu.copy())
        with atomic_path(path) as tmp:
            fits.HDUList(out).writeto(tmp, overwrite=True)


def compress_fits_primary(path: str | os.PathLike) -> None:
    """Rewrite a one-image FITS (image in the primary, as grizli writes mosaics) with the image
    in a losslessly compressed extension named by its ``EXTNAME`` or ``SCI``."""
    from astropy.io import fits

    with fits.open(path) as hdul:
        if any(isinstance(hdu, fits.CompImageHDU) for hdu in hdul):
            return
        data, header = hdul[0].data, hdul[0].header
        write_image(path, data, header, compress=True, name=str(header.get("EXTNAME", "SCI")))


def expanded_copy(source: str | os.PathLike, target: str | os.PathLike) -> Path:
    """``source`` copied to ``target`` with compressed images written out plainly (a plain copy
    when nothing is compressed): for grizli steps that open or update their input in place."""
    from astropy.io import fits

    source, target = Path(source), Path(target)
    if not is_compressed(source):
        shutil.copyfile(source, target)
        return target
    with fits.open(source) as hdul:
        images = [hdu for hdu in hdul if isinstance(hdu, fits.CompImageHDU)]
        if hdul[0].data is None and len(hdul) == 2 and len(images) == 1:
            # one image (a mosaic, a model): back in the primary, where grizli reads it
            with atomic_path(target) as tmp:
                fits.PrimaryHDU(images[0].data, header=images[0].header).writeto(tmp)
            return target
        out = []
        for hdu in hdul:
            if isinstance(hdu, fits.CompImageHDU):
                out.append(fits.ImageHDU(hdu.data, header=hdu.header, name=hdu.name))
            else:
                out.append(hdu.copy())
        with atomic_path(target) as tmp:
            fits.HDUList(out).writeto(tmp, overwrite=True)
    return target


def image_header(path: str | os.PathLike):
    """The header of the image in ``path`` (its primary, or its first compressed extension)."""
    from astropy.io import fits

    with fits.open(path) as hdul:
        for hdu in hdul:
            if isinstance(hdu, fits.CompImageHDU) or (hdu.is_image and hdu.header.get("NAXIS")):
                return hdu.header.copy()
        return hdul[0].header.copy()


def write_image(path, data: np.ndarray, header, *, compress: bool, name: str = "SCI") -> None:
    """An image product, atomically: in the primary, or (``compress``) in a losslessly
    compressed extension ``name`` after an empty primary."""
    from astropy.io import fits

    hdus = (
        [fits.PrimaryHDU(), compressed_image(data, header, name)]
        if compress
        else [fits.PrimaryHDU(data, header=header)]
    )
    with atomic_path(path) as tmp:
        fits.HDUList(hdus).writeto(tmp)


def plain_inputs(paths, folder: str | os.PathLike) -> list[Path]:
    """``paths`` as grizli can read them: each compressed one as a plain copy in ``folder``
    (same name), the others as they are."""
    out = []
    for path in map(Path, paths):
        out.append(expanded_copy(path, Path(folder) / path.name) if is_compressed(path) else path)
    return out


def drop_visit_intermediates(prep: str | os.PathLike, visits: Iterable[str]) -> list[Path]:
    """Remove grizli's visit-level images of ``visits`` from ``prep``; returns what went."""
    removed = []
    for visit in sorted(set(visits)):
        for suffix in VISIT_INTERMEDIATES:
            path = Path(prep) / f"{visit}{suffix}"
            if path.is_file():
                path.unlink()
                removed.append(path)
    return removed
