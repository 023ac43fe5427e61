"""Truth catalogue of the synthetic field: emission-line galaxies, continuum galaxies and stars.

:func:`make_scene` draws a deterministic scene from a seed; :func:`spectrum` evaluates one source's
f_lambda spectrum (continuum + Gaussian emission lines) for the renderer. Magnitudes in the table
are synthetic photometry of that same spectrum through the throughput model of
:mod:`.grismconf`, so direct images and dispersed images of a source agree.

A galaxy's continuum is a mix of two of the FSPS templates grizli ships
(``grizli/data/templates/fsps/fsps_QSF_12_v3_nolines_0NN.dat``, the continua zfit fits with):
young, blue ones for emitters, older or dusty ones for continuum galaxies. Real continua lie
in that span to a few per cent, so a fit of grism spectra and direct-image photometry meets
here what it meets on real data, not a shape no template can take.
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np
from astropy.table import Table

from . import grismconf

# Emission lines: truth-table column -> vacuum rest wavelength (Angstrom).
LINES = {
    "flux_oii": 3728.48,  # [OII]3726,3729 blend
    "flux_hgamma": 4341.69,
    "flux_hbeta": 4862.68,
    "flux_oiii_4959": 4960.30,
    "flux_oiii_5007": 5008.24,
    "flux_halpha": 6564.61,
    "flux_siii_9069": 9071.10,
    "flux_siii_9531": 9533.20,
    "flux_pabeta": 12821.59,
}
LINE_RANGE_ANGSTROM = (10000.0, 22000.0)  # lines are only injected where they land in here
MAG_COLUMNS = {f: f"mag_{f.lower()}" for f in grismconf.FILTERS}
SPECTRUM_GRID = np.arange(8000.0, 25000.0, 1.0)  # fine enough to resolve 100 km/s lines
C_KMS = 299792.458


# grizli's FSPS continuum templates (1-12) mixed for each kind of galaxy: 7-9 are the youngest
# and bluest (D4000 1.1-1.3), 1 a little older; 2-5 older, 10-11 dusty (D4000 1.4-2.2).
EMITTER_TEMPLATES = (7, 8, 9, 1)
CONTINUUM_TEMPLATES = (2, 3, 4, 5, 10, 11)
NORM_ANGSTROM = 15000.0  # continuum shapes are 1 here (observed)


@functools.cache
def fsps_template(number: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest wavelength A, f_lambda) of grizli's ``fsps_QSF_12_v3_nolines_{number:03d}.dat``,
    read from the installed grizli package (not imported: it reads $GRIZLI on import)."""
    spec = importlib.util.find_spec("grizli")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the synthetic scene needs grizli installed (its FSPS templates)")
    folder = Path(spec.submodule_search_locations[0]) / "data" / "templates" / "fsps"
    data = np.loadtxt(folder / f"fsps_QSF_12_v3_nolines_{number:03d}.dat")
    return data[:, 0], data[:, 1]


def _continuum_shape(row, wave: np.ndarray) -> np.ndarray:
    """Continuum f_lambda shape, equal to 1 at 15000 A observed."""
    wave = np.asarray(wave, dtype=float)
    if row["kind"] == "star":
        # Planck f_lambda shape, normalised at 1.5 um.
        def planck(lam):
            x = 1.438777e8 / (lam * row["teff"])  # hc/(lambda k T), lambda in A
            return lam**-5 / np.expm1(x)

        return planck(wave) / planck(NORM_ANGSTROM)
    rest, norm = wave / (1.0 + row["z"]), NORM_ANGSTROM / (1.0 + row["z"])
    shape = np.zeros_like(wave)
    for number, weight in ((row["cont_template_a"], row["cont_mix"]),
                           (row["cont_template_b"], 1.0 - row["cont_mix"])):  # fmt: skip
        template_wave, flux = fsps_template(int(number))
        shape += (
            weight * np.interp(rest, template_wave, flux) / np.interp(norm, template_wave, flux)
        )
    return shape


def spectrum(row, wave_angstrom: np.ndarray) -> np.ndarray:
    """f_lambda (erg/s/cm2/A) of one truth-table row at observed wavelengths (Angstrom)."""
    wave = np.asarray(wave_angstrom, dtype=float)
    flux = row["cont_flambda"] * _continuum_shape(row, wave)
    if row["kind"] == "star":
        return flux
    for column, rest in LINES.items():
        line_flux = row[column]
        if line_flux <= 0:
            continue
        centre = rest * (1.0 + row["z"])
        sigma = centre * row["line_sigma_kms"] / C_KMS
        flux = flux + line_flux / (np.sqrt(2 * np.pi) * sigma) * np.exp(
            -0.5 * ((wave - centre) / sigma) ** 2
        )
    return flux


def observed_lines(row) -> dict[str, tuple[float, float]]:
    """Injected lines of a row: column -> (observed wavelength A, flux erg/s/cm2)."""
    if row["kind"] == "star":
        return {}
    return {
        column: (rest * (1.0 + row["z"]), float(row[column]))
        for column, rest in LINES.items()
        if row[column] > 0
    }


def _line_fluxes(rng, z: float, kind: str) -> dict[str, float]:
    """Line fluxes for one galaxy; zero unless the line lands in LINE_RANGE_ANGSTROM."""
    fluxes = dict.fromkeys(LINES, 0.0)
    if kind != "emitter":
        return fluxes
    # Bright enough for line S/N > 10 in a 1.3 ks exposure with the synthetic sensitivity.
    halpha = 10 ** rng.uniform(np.log10(8e-17), np.log10(4e-16))
    oiii_ratio = rng.uniform(0.6, 1.0) * (1.0 + 0.5 * z)  # [OIII]5007/Halpha rises with z
    balmer_dec = rng.uniform(2.86, 4.0)  # Halpha/Hbeta: case B times mild dust
    # Hgamma/Hbeta: case B 0.468, lowered by the same dust (a Cardelli-like curve: the
    # Hgamma-Hbeta extinction difference is about half the Hbeta-Halpha one).
    hgamma = halpha / balmer_dec * 0.468 * (2.86 / balmer_dec) ** 0.5
    values = {
        "flux_halpha": halpha,
        "flux_hgamma": hgamma,
        "flux_hbeta": halpha / balmer_dec,
        "flux_oiii_5007": halpha * oiii_ratio,
        "flux_oiii_4959": halpha * oiii_ratio / 2.98,
        "flux_oii": halpha * rng.uniform(0.4, 1.0),
        "flux_siii_9531": halpha * 0.12,
        "flux_siii_9069": halpha * 0.12 / 2.44,
        "flux_pabeta": halpha / 17.6,
    }
    lo, hi = LINE_RANGE_ANGSTROM
    for column, rest in LINES.items():
        if lo <= rest * (1.0 + z) <= hi:
            fluxes[column] = values[column]
    return fluxes


def _positions(rng, n: int, field_arcsec: float, min_sep_arcsec: float, pair_index: int | None):
    """Offsets (arcsec, east & north) in a square field, at least ``min_sep_arcsec`` apart.

    Source ``pair_index + 1`` is put 5-8 arcsec from source ``pair_index`` so that their traces
    overlap in at least one grism for most position angles.
    """
    half = field_arcsec / 2.0
    offsets: list[tuple[float, float]] = []
    for i in range(n):
        for _attempt in range(10000):
            if pair_index is not None and i == pair_index + 1:
                sep, angle = rng.uniform(5.0, 8.0), rng.uniform(0, 2 * np.pi)
                east = offsets[pair_index][0] + sep * np.sin(angle)
                north = offsets[pair_index][1] + sep * np.cos(angle)
                if max(abs(east), abs(north)) > half:
                    continue
            else:
                east, north = rng.uniform(-half, half, size=2)
            if all(np.hypot(east - e, north - n_) >= min_sep_arcsec for e, n_ in offsets):
                offsets.append((float(east), float(north)))
                break
        else:
            raise RuntimeError(
                f'could not place {n} sources {min_sep_arcsec}" apart in a {field_arcsec}" field'
            )
    return np.array(offsets)


def make_scene(
    seed: int,
    ra: float,
    dec: float,
    n_emitters: int = 12,
    n_continuum: int = 3,
    n_stars: int = 3,
    field_arcsec: float = 120.0,
    min_separation_arcsec: float = 4.0,
    z_range: tuple[float, float] = (0.5, 3.0),
) -> Table:
    """Deterministic truth table of a synthetic field centred on (``ra``, ``dec``) degrees.

    Columns: ``id, ra, dec, z, kind`` ('emitter' | 'continuum' | 'star'), ``mag_f115w, mag_f150w,
    mag_f200w`` (AB, total including lines), ``re_arcsec`` (Sersic half-light radius along the
    major axis; 0 for stars), ``sersic_n``, ``axis_ratio``, ``pa_deg`` (major axis, east of north),
    line fluxes (erg/s/cm2, 0 where the line falls outside 1.0-2.2 um) named as in :data:`LINES`,
    plus the spectral parameters used by :func:`spectrum`: ``cont_flambda`` (continuum f_lambda at
    1.5 um), ``cont_template_a``/``cont_template_b``/``cont_mix`` (galaxies: the continuum is
    ``cont_mix`` of FSPS template a plus the rest of b, each 1 at 1.5 um observed; 0 for stars),
    ``teff`` (stars), ``line_sigma_kms``.

    Emitter redshifts are stratified over ``z_range`` so every run spans it. Sources lie in the
    central ``field_arcsec`` square, at least ``min_separation_arcsec`` apart, with one emitter +
    continuum-galaxy pair 5-8" apart (overlapping traces).
    """
    rng = np.random.default_rng(seed)
    continua = np.random.default_rng([seed, 4000])  # its own stream: the rest stays as it was
    n_gal = n_emitters + n_continuum
    n_total = n_gal + n_stars
    kinds = ["emitter"] * n_emitters + ["continuum"] * n_continuum + ["star"] * n_stars

    z_lo, z_hi = z_range
    strata = (np.arange(n_emitters) + rng.uniform(0.1, 0.9, n_emitters)) / max(n_emitters, 1)
    z_emit = rng.permutation(z_lo + (z_hi - z_lo) * strata)
    z_cont = rng.uniform(0.5, 2.5, n_continuum)

    pair_index = n_emitters - 1 if (n_emitters and n_continuum) else None
    offsets = _positions(rng, n_total, field_arcsec, min_separation_arcsec, pair_index)
    cos_dec = np.cos(np.deg2rad(dec))

    rows = []
    for i, kind in enumerate(kinds):
        row: dict = {"id": i + 1, "kind": kind}
        row["ra"] = ra + offsets[i, 0] / 3600.0 / cos_dec
        row["dec"] = dec + offsets[i, 1] / 3600.0
        if kind == "star":
            row.update(
                z=0.0,
                cont_template_a=0,
                cont_template_b=0,
                cont_mix=0.0,
                teff=rng.uniform(3500.0, 7000.0),
                re_arcsec=0.0,
                sersic_n=0.0,
                axis_ratio=1.0,
                pa_deg=0.0,
                line_sigma_kms=0.0,
            )
            cont_mag = rng.uniform(20.5, 22.0)
        else:
            emitter = kind == "emitter"
            row["z"] = float(z_emit[i] if emitter else z_cont[i - n_emitters])
            # Two draws of the power-law continua this scene had before its FSPS continua, kept
            # so that every later draw (sizes, shapes, lines) stays what it was for a seed.
            rng.uniform(size=2)
            choices = EMITTER_TEMPLATES if emitter else CONTINUUM_TEMPLATES
            first, second = continua.choice(len(choices), size=2, replace=False)
            row["cont_template_a"], row["cont_template_b"] = choices[first], choices[second]
            row["cont_mix"] = continua.uniform(0.0, 1.0)
            row["teff"] = 0.0
            re_range = (0.08, 0.3) if emitter else (0.15, 0.45)
            row["re_arcsec"] = float(10 ** rng.uniform(*np.log10(re_range)))
            row["sersic_n"] = rng.uniform(0.8, 1.5) if emitter else rng.uniform(1.5, 2.5)
            row["axis_ratio"] = rng.uniform(0.4, 1.0)
            row["pa_deg"] = rng.uniform(0.0, 180.0)
            row["line_sigma_kms"] = rng.uniform(80.0, 150.0)
            cont_mag = rng.uniform(23.0, 25.0) if emitter else rng.uniform(20.5, 22.5)
        row.update(_line_fluxes(rng, row["z"], kind))
        # Normalise the continuum so its F150W synthetic magnitude is cont_mag.
        row["cont_flambda"] = 1.0
        shape_mag = grismconf.synthetic_mag(
            "F150W", SPECTRUM_GRID, _continuum_shape(row, SPECTRUM_GRID)
        )
        row["cont_flambda"] = 10 ** (-0.4 * (cont_mag - shape_mag))
        full = spectrum(row, SPECTRUM_GRID)
        for filter_name, column in MAG_COLUMNS.items():
            row[column] = grismconf.synthetic_mag(filter_name, SPECTRUM_GRID, full)
        rows.append(row)

    columns = [
        "id",
        "ra",
        "dec",
        "z",
        "kind",
        *MAG_COLUMNS.values(),
        "re_arcsec",
        "sersic_n",
        "axis_ratio",
        "pa_deg",
        *LINES,
        "cont_flambda",
        "cont_template_a",
        "cont_template_b",
        "cont_mix",
        "teff",
        "line_sigma_kms",
    ]
    table = Table(rows=[[r[c] for c in columns] for r in rows], names=columns)
    for column in ("ra", "dec"):
        table[column].unit = "deg"
        table[column].format = ".8f"
    table["re_arcsec"].unit = "arcsec"
    table["pa_deg"].unit = "deg"
    for column in LINES:
        table[column].unit = "erg / (s cm2)"
    table["cont_flambda"].unit = "erg / (s cm2 Angstrom)"
    table.meta.update(seed=seed, ra_center=ra, dec_center=dec, field_arcsec=field_arcsec)
    table.meta["line_rest_angstrom"] = dict(LINES)  # what each flux_* column is
    return table
