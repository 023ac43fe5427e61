"""1/f stripes in a product, measured against what the simulator injected.

The synthetic field's truth rate (``rates/<exposure>_truth_rate.fits``) holds the noise-free
count rate (``SCI``) and the injected stripes' rate per output and DMS column (``ONEOVERF``,
4 x 2048, DN/s; see ``wfsssim.ramps``). A product's stripes are the masked median along each
output's 512 rows of (product - model of the product): a column profile per output, as jwst's
``clean_flicker_noise`` sees them. Its power over the columns, less the white-noise floor of a
median of that many pixels, is what is left of the stripes; the injected power is that of
``ONEOVERF``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUTPUT_ROWS = 512
BORDER = 4  # reference pixels


@dataclass(frozen=True)
class StripeReport:
    injected: float  # mean square of the injected stripes (product units squared)
    measured: float  # mean square of the product's column profiles
    floor: float  # what white pixel noise alone puts into those profiles
    columns: int  # output columns measured

    @property
    def left(self) -> float:
        """Fraction of the injected stripe power still in the product."""
        return (self.measured - self.floor) / self.injected

    @property
    def removed(self) -> float:
        return 1.0 - self.left


def column_profiles(residual: np.ndarray, good: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(median, count): the masked median of ``residual`` along each output's rows per DMS
    column, minus the output's own median (a constant is background, not stripes), and the
    number of good pixels behind each; NaN where fewer than 100 pixels are good."""
    noutputs = residual.shape[0] // OUTPUT_ROWS
    medians = np.full((noutputs, residual.shape[1]), np.nan)
    counts = np.zeros(medians.shape, dtype=int)
    for out in range(noutputs):
        rows = slice(out * OUTPUT_ROWS, (out + 1) * OUTPUT_ROWS)
        values = np.ma.array(residual[rows], mask=~good[rows])
        counts[out] = good[rows].sum(axis=0)
        column = np.ma.median(values, axis=0).filled(np.nan)
        column[counts[out] < 100] = np.nan
        medians[out] = column - np.nanmedian(column)
    return medians, counts


def stripe_report(
    residual: np.ndarray, good: np.ndarray, injected: np.ndarray, scale: float = 1.0
) -> StripeReport:
    """Stripes left in ``residual`` (product - model, with ``good`` the pixels to use) against
    ``injected`` (outputs x columns, DN/s) times ``scale`` (product units per DN/s)."""
    good = good.copy()
    good[:BORDER] = good[-BORDER:] = False
    good[:, :BORDER] = good[:, -BORDER:] = False
    profile, counts = column_profiles(residual, good)
    used = np.isfinite(profile)
    used[:, :BORDER] = used[:, -BORDER:] = False
    expected = injected * scale
    expected = expected - np.median(expected[:, BORDER:-BORDER], axis=1, keepdims=True)
    # White noise in each column median: (pi/2) sigma^2 / n, sigma the pixels' robust scatter
    # about their column's profile.
    flat = residual - np.repeat(np.nan_to_num(profile), OUTPUT_ROWS, axis=0)[: residual.shape[0]]
    pixels = flat[good]
    sigma = 1.4826 * np.median(np.abs(pixels - np.median(pixels)))
    floor = float(np.mean((np.pi / 2) * sigma**2 / counts[used]))
    return StripeReport(
        injected=float(np.mean(expected[used] ** 2)),
        measured=float(np.mean(profile[used] ** 2)),
        floor=floor,
        columns=int(used.sum()),
    )


def segment_fluxes(
    truth: np.ndarray, product: np.ndarray, good: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray]:
    """(truth flux, product flux) of each source of a direct image: the connected pixels of
    ``truth`` more than ``threshold`` above its sky (its median), summed over the sky in both
    (a product's bad pixels take the truth's value, so a masked pixel moves no flux)."""
    from scipy import ndimage

    sky = float(np.median(truth))
    labels, count = ndimage.label(truth - sky > threshold)
    index = np.arange(1, count + 1)
    filled = np.where(good, product, truth)
    true_flux = ndimage.sum_labels(truth - sky, labels, index)
    product_flux = ndimage.sum_labels(filled - sky, labels, index)
    return np.asarray(true_flux), np.asarray(product_flux)
