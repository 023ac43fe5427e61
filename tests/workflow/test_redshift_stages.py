"""contam, extract, zfit and the provenance record on the synthetic field (built once by the
session fixture ``built``), checked against the injected truth."""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy.io import fits
from astropy.table import Table
from support import ROOT

from wfsspipe.integrity import sha256_of
from wfsspipe.provenance import config_hash

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

FIELD = "sex-00"
MATCH_ARCSEC = 0.3
# The bar: every line emitter at z < 2 with a line of S/N > 10 to |dz|/(1+z) < 0.005.
Z_TOLERANCE = 0.005
LINE_SN = 10.0


def products(built):
    return built / "FIELDS" / FIELD


def match_truth(truth: Table, table: Table) -> Table:
    """Truth rows with the nearest table row (within MATCH_ARCSEC) appended as ``m_*``."""
    rows = []
    for source in truth:
        d = np.hypot((table["ra"] - source["ra"]) * np.cos(np.radians(source["dec"])),
                     table["dec"] - source["dec"]) * 3600  # fmt: skip
        best = int(np.argmin(d)) if len(d) else -1
        if best >= 0 and d[best] < MATCH_ARCSEC:
            rows.append((source["id"], source["z"], source["kind"], int(table["id"][best]), best))
    return Table(rows=rows, names=["truth_id", "z_true", "kind", "id", "row"])


@pytest.fixture(scope="module")
def truth(synthetic_field):
    return Table.read(synthetic_field / "truth.ecsv")


@pytest.fixture(scope="module")
def redshifts(built):
    return Table.read(products(built) / "Redshifts" / f"{FIELD}_redshifts.fits")


def test_contam_models_reproduce_the_grism_data(built):
    contam = products(built) / "Contam"
    manifest = Table.read(contam / f"{FIELD}_contam.ecsv", format="ascii.ecsv")
    table = Table.read(built / "FIELDS/fields.csv")
    grism = table[(table["field"] == FIELD) & (table["exp_type"] == "NIS_WFSS")]
    assert sorted(manifest["exposure"]) == sorted(grism["obs_id"])
    for row in manifest:
        with fits.open(contam / row["grismflt"]) as hdul:
            data, err, model = hdul["GSCI"].data, hdul["GERR"].data, hdul["MODEL"].data
            good = (hdul["GDQ"].data == 0) & (err > 0)
        bright = good & (model > 5 * err)
        assert bright.sum() > 500, f"{row['exposure']}: almost nothing modelled"
        # The model carries the dispersed flux of the sources (within 10%) ...
        assert data[bright].sum() / model[bright].sum() == pytest.approx(1.0, abs=0.1)
        # ... and the residuals where it is bright are close to noise.
        chi = (data - model)[bright] / err[bright]
        nmad = 1.4826 * np.median(np.abs(chi - np.median(chi)))
        assert nmad < 1.5 and abs(np.median(chi)) < 0.6, (row["exposure"], nmad, np.median(chi))
        # Empty sky after the mode subtraction is centred on zero.
        sky = good & (model < 0.01 * err)
        assert abs(np.median(data[sky] / err[sky])) < 0.1
    for label, name in manifest.meta["model_rgb"].items():
        assert (contam / name).stat().st_size > 10_000, label
    assert manifest.meta["extract_mag_limit"] > 24.0  # the catalogue reaches ~27 mag at S/N 5


def test_grism_products_are_compressed_and_load_through_grizli(built):
    """products.keep: science: GrismFLT files and model images tile-compressed losslessly; a
    GrismFLT file still loads through grizli's own path (what extract's GroupFLT calls)."""
    from grizli import multifit

    contam = products(built) / "Contam"
    manifest = Table.read(contam / f"{FIELD}_contam.ecsv", format="ascii.ecsv")
    for row in manifest:
        with fits.open(contam / row["grismflt"]) as hdul:
            for name in ("GSCI", "GERR", "GDQ", "DREF", "SEG", "MODEL"):
                assert isinstance(hdul[name], fits.CompImageHDU), (row["grismflt"], name)
            model = hdul["MODEL"].data
    flt = multifit._loadFLT(
        str(contam / row["grismflt"]), 1, None, (200, 200), None, 0, None, False, None, 0, False
    )  # grism_file, sci_extn, direct, pad, ref, ref_ext, seg, verbose, catalog, ix, crds
    # The loaded model is the file's (rotated to +x dispersion for NIRISS, as extract sees it).
    assert flt.model.shape == model.shape and flt.model.dtype == np.float32
    assert np.isclose(np.nansum(flt.model), np.nansum(model), rtol=1e-6)
    assert np.isfinite(flt.grism.data["SCI"]).any()
    images = sorted(contam.glob(f"{FIELD}-*_model.fits"))
    assert len(images) == 4  # 2 grisms x 2 filters
    for path in images:
        with fits.open(path) as hdul:
            assert isinstance(hdul["MODEL"], fits.CompImageHDU), path.name
            assert hdul["MODEL"].data.dtype == np.float32 and np.nanmax(hdul["MODEL"].data) > 0
            assert hdul["MODEL"].header["BUNIT"] == "DN/s"
        assert path.stat().st_size < 10e6  # mostly empty sky: ~100 MB uncompressed


def test_every_source_brighter_than_the_limit_is_extracted(built, truth):
    table = Table.read(products(built) / "Extractions" / f"{FIELD}_extract.ecsv")
    limit = table.meta["mag_limit"]
    assert set(table["status"]) <= {"extracted", "skipped", "failed"}
    assert not (table["status"] == "failed").any(), table[table["status"] == "failed"]
    for row in table:
        if row["status"] == "extracted":
            beams = products(built) / "Extractions" / row["beams"]
            with fits.open(beams) as hdul:
                assert hdul[0].header["ID"] == row["id"] and hdul[0].header["COUNT"] >= 2
        else:
            assert row["mag"] > limit or row["mag"] <= table.meta["bright_limit"] or row["reason"]
    matched = match_truth(truth, table)
    assert len(matched) == len(truth)  # every injected source is in the catalogue
    extracted = set(table["id"][table["status"] == "extracted"])
    emitters = matched[matched["kind"] == "emitter"]
    assert set(emitters["id"]) <= extracted


def line_sn_at_true_redshift(built, sources: Table, tmp_path) -> dict[int, float]:
    """S/N of each source's strongest emission line in a free-line fit at its injected z.

    That is what the data say about the lines, whatever redshift the search found: the bar
    applies to emitters whose lines the grism exposures actually detect (a line in the gap
    between F150W and F200W, or outside both, is not seen).
    """
    from wfsspipe.grizli_env import GrizliSettings, grizli_session

    settings = GrizliSettings.from_config(yaml.safe_load((built / "config.yaml").read_text()))
    extract = products(built) / "Extractions"
    best = {}
    with grizli_session(tmp_path, settings):
        from grizli import multifit, utils

        templates = utils.load_templates(line_complexes=False, fsps_templates=True, fwhm=1200)
        for source in sources:
            beams = multifit.MultiBeam(
                str(extract / f"{FIELD}_{source['id']:05d}.beams.fits"), group_name=FIELD,
                fcontam=0.2, min_sens=0.05,
            )  # fmt: skip
            fit = beams.template_at_z(source["z_true"], templates=templates, get_uncertainties=2)
            ratios = [
                c / e for name, (c, e) in fit["cfit"].items() if name.startswith("line ") and e > 0
            ]
            best[int(source["id"])] = max(ratios, default=0.0)
    return best


def test_low_redshift_emitters_are_recovered(built, redshifts, truth, tmp_path, capsys):
    """Every z < 2 emitter with a line at S/N > 10 within 0.005 (1+z); z > 2 reported."""
    matched = match_truth(truth, redshifts)
    emitters = matched[matched["kind"] == "emitter"]
    assert len(emitters) == int((truth["kind"] == "emitter").sum())
    line_sn = line_sn_at_true_redshift(built, emitters, tmp_path)
    report, failures, low, high = [], [], [], []
    for source in emitters:
        row = redshifts[source["row"]]
        dz = (row["z"] - source["z_true"]) / (1 + source["z_true"])
        ok = abs(dz) < Z_TOLERANCE
        sn = line_sn[int(source["id"])]
        report.append(f"id {row['id']:3d} z_true {source['z_true']:.4f} z {row['z']:.4f} "
                      f"dz/(1+z) {dz:+.5f} line S/N at z_true {sn:5.1f} {'ok' if ok else 'WRONG'}")  # fmt: skip
        if source["z_true"] < 2 and sn > LINE_SN:
            low.append(ok)
            if not ok:
                failures.append(report[-1])
        if source["z_true"] >= 2:
            high.append(ok)
    with capsys.disabled():
        print("\n" + "\n".join(report))
        print(f"z < 2 emitters with a line at S/N > {LINE_SN:g}: {sum(low)}/{len(low)} recovered")
        print(f"z > 2 emitters: {sum(high)}/{len(high)} recovered")
    assert len(low) >= 3  # the bar is tested on real cases
    assert not failures, "\n".join(failures)


# Rest wavelengths (vacuum, Angstrom) of the lines a NIRISS spectrum of 1-2.2 um may show.
REST_LINES = {"OII": 3728.48, "Hb": 4862.68, "OIII": 5008.24, "Ha": 6564.61, "SIII-9069": 9071.1,
              "SIII-9531": 9533.2, "HeI-10830": 10833.3, "PaB": 12821.59}  # fmt: skip


def another_line_at(z: float, z_alt: float, tolerance: float = 0.01) -> bool:
    """Some line at ``z`` falls where another line would at ``z_alt``: the same feature read as
    a different line."""
    return any(
        abs(a * (1 + z) - b * (1 + z_alt)) < tolerance * a * (1 + z)
        for a in REST_LINES.values()
        for b in REST_LINES.values()
        if a != b
    )


def test_single_line_redshifts_with_an_alternative_are_ambiguous(redshifts, truth):
    """A right redshift resting on one detected line, whose other reading the grism data do not
    exclude, is flagged ambiguous with that reading (another line at z_alt, within the config's
    thresholds: ``ambiguous_dchi2``, or ``coincident_dchi2`` when z_alt reads the line as
    another); right redshifts on several lines stay good."""
    quality = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())["zfit"]["quality"]
    matched = match_truth(truth, redshifts)
    right = []
    for source in matched[matched["kind"] == "emitter"]:
        row = redshifts[source["row"]]
        if abs(row["z"] - source["z_true"]) / (1 + source["z_true"]) < Z_TOLERANCE:
            right.append(row)
    ambiguous = [r for r in right if r["nlines"] <= 1 and r["flag"] == "ambiguous"]
    assert ambiguous, [(r["id"], r["nlines"], r["flag"], r["dchi2_alt"]) for r in right]
    for row in ambiguous:
        assert row["quality"] == 1 and np.isfinite(row["z_alt"])
        if row["dchi2_alt"] >= quality["ambiguous_dchi2"]:
            assert row["dchi2_alt"] < quality["coincident_dchi2"], row["flag_reason"]
            assert "reads it as another line" in row["flag_reason"], row["flag_reason"]
        assert abs(row["z_alt"] - row["z"]) / (1 + row["z"]) > 0.05
        assert another_line_at(row["z"], row["z_alt"]), (row["id"], row["z"], row["z_alt"])
        assert f"z = {row['z_alt']:.3f}" in str(row["flag_reason"])
    several = [r for r in right if r["nlines"] >= 2]
    assert several and all(r["flag"] == "good" and r["quality"] == 2 for r in several), [
        (r["id"], r["flag"], r["flag_reason"]) for r in several
    ]


def test_results_table_is_complete(redshifts, built):
    extract = Table.read(products(built) / "Extractions" / f"{FIELD}_extract.ecsv")
    assert sorted(redshifts["id"]) == sorted(extract["id"][extract["status"] == "extracted"])
    assert (redshifts["status"] == "ok").all(), redshifts[redshifts["status"] != "ok"]
    ok = redshifts["status"] == "ok"
    # (the maximum a posteriori may lie outside the 16-84% interval of a two-peaked p(z))
    assert (redshifts["z02"][ok] <= redshifts["z_lo"][ok]).all()
    assert (redshifts["z_lo"][ok] <= redshifts["z_hi"][ok]).all()
    assert (redshifts["z_hi"][ok] <= redshifts["z97"][ok]).all()
    assert ((redshifts["z"][ok] >= 0.1) & (redshifts["z"][ok] <= 3.4)).all()
    folder = products(built) / "Redshifts"
    for row in redshifts:
        for column in ("fit_plot", "spectrum_plot"):
            assert (folder / row[column]).is_file(), (row["id"], column)
    csv = Table.read(folder / f"{FIELD}_redshifts.csv", format="ascii.csv")
    assert list(csv["id"]) == list(redshifts["id"])
    assert np.allclose(csv["z"], redshifts["z"], equal_nan=True)


def test_combined_catalogue_units_and_unmeasured_lines(built, redshifts):
    """Every column has a unit or is dimensionless by design; a line the grisms do not cover is
    masked, never 0; the extracted sources' lines are measured somewhere."""
    from wfsspipe.summary.catalog import DIMENSIONLESS, DIMENSIONLESS_PREFIXES

    catalog = Table.read(built / "FIELDS" / "catalog.fits")
    for name in catalog.colnames:
        dimensionless = name in DIMENSIONLESS or name.startswith(DIMENSIONLESS_PREFIXES)
        assert (catalog[name].unit is not None) != dimensionless, name
    fitted = catalog[catalog["status"] == "ok"]
    assert len(fitted) == (redshifts["status"] == "ok").sum() > 0
    flux_columns = [c for c in catalog.colnames if c.startswith("flux_")]
    for name in flux_columns:
        values = np.ma.filled(fitted[name].astype(float), np.nan)
        errors = np.ma.filled(fitted["err_" + name[5:]].astype(float), np.nan)
        assert not ((values == 0) & (errors == 0)).any(), name  # no "0 +- 0"
        assert (np.isnan(values) == np.isnan(errors)).all(), name
    measured = np.array(
        [np.isfinite(np.ma.filled(fitted[c].astype(float), np.nan)) for c in flux_columns]
    )
    # Each fit measures some lines and leaves the ones outside F150W+F200W unmeasured.
    assert measured.any(axis=0).all() and (~measured).any(axis=0).all()
    not_fitted = catalog[catalog["status"] != "ok"]
    assert all(str(r).strip() for r in not_fitted["reason"]), "a source without z needs a reason"


def test_provenance_record(built):
    record = json.loads((products(built) / f"{FIELD}_provenance.json").read_text())
    assert record["packages"]["grizli"] == metadata.version("grizli")
    assert record["packages"]["jwst"] == metadata.version("jwst")
    assert record["config_sha256"] == config_hash(record["config"])
    assert record["crds"]["rate_contexts"] == [record["crds"]["context"]]
    rates = sorted((products(built) / "RATE").glob("*_rate.fits"))
    assert [r["file"] for r in record["inputs"]["rates"]] == [p.name for p in rates]
    assert record["inputs"]["rates"][0]["sha256"] == sha256_of(rates[0])
    results = products(built) / "Redshifts" / f"{FIELD}_redshifts.fits"
    assert record["results"]["sha256"] == sha256_of(results)
    assert record["results"]["fitted"] == len(Table.read(results))
    # How each visit was aligned, as the visit table says: the synthetic field's direct visits
    # to its local catalogue (preprocess.alignment.catalog), each grism visit as its direct one.
    visits = products(built) / "Prep" / f"{FIELD}_visits.ecsv"
    assert record["inputs"]["visits"]["sha256"] == sha256_of(visits)
    table = Table.read(visits, format="ascii.ecsv")
    assert list(record["alignment"]) == list(dict.fromkeys(str(v) for v in table["visit"]))
    for row in table:
        aligned = record["alignment"][str(row["visit"])]
        assert aligned["method"] == row["align_method"] == "local file", row["visit"]
        assert aligned["kind"] == row["kind"] and aligned["sources"] == row["align_n"] > 0


def test_one_failing_source_does_not_fail_the_field(built, tmp_path):
    """A broken beams file is recorded as failed; the other source is fitted."""
    from wfsspipe.grizli_env import GrizliSettings
    from wfsspipe.zfit import ZfitSettings, fit_field

    source = products(built) / "Extractions"
    extract = Table.read(source / f"{FIELD}_extract.ecsv")
    extract = extract[extract["status"] == "extracted"][:2]
    folder = tmp_path / "Extractions"
    folder.mkdir()
    shutil.copy(source / extract["beams"][0], folder)
    (folder / extract["beams"][1]).write_bytes(b"broken")
    extract.write(folder / f"{FIELD}_extract.ecsv", format="ascii.ecsv")
    config = yaml.safe_load((built / "config.yaml").read_text())
    grizli = GrizliSettings.from_config(config)
    settings = ZfitSettings(z_range=(1.0, 1.1), dz=(0.01, 0.002))
    result = fit_field(FIELD, folder / f"{FIELD}_extract.ecsv", tmp_path / "Redshifts", settings,
                       grizli, threads=1)  # fmt: skip
    table = Table.read(result.table)
    assert list(table["status"]) == ["ok", "failed"]
    assert "broken" in table["reason"][1] or table["reason"][1]
    assert (result.fitted, result.failed) == (1, 1)
    assert not list(tmp_path.glob(".Redshifts.tmp-*"))


def test_no_source_bright_enough_gives_empty_valid_tables(built, tmp_path):
    from wfsspipe.extract import ExtractSettings, extract_field
    from wfsspipe.extraction_limit import LimitSettings
    from wfsspipe.grizli_env import GrizliSettings
    from wfsspipe.zfit import ZfitSettings, fit_field

    config = yaml.safe_load((built / "config.yaml").read_text())
    grizli = GrizliSettings.from_config(config)
    mosaic = products(built) / "Mosaic"
    result = extract_field(
        FIELD, products(built) / "Contam" / f"{FIELD}_contam.ecsv", mosaic / f"{FIELD}-ir_seg.fits",
        mosaic / f"{FIELD}-ir.cat.fits", tmp_path / "Extractions",
        ExtractSettings(LimitSettings(mag_limit=10.0)), grizli, pad=200,
    )  # fmt: skip
    table = Table.read(result.table)
    assert result.extracted == 0 and len(table) > 0
    assert (table["status"] == "skipped").all() and "no source is bright enough" in table.meta[
        "note"
    ]
    fitted = fit_field(FIELD, result.table, tmp_path / "Redshifts", ZfitSettings(), grizli)
    empty = Table.read(fitted.table)
    assert len(empty) == 0 and "quality" in empty.colnames
    assert "no source is bright enough" in empty.meta["NOTE"]


def test_a_field_without_grism_exposures_gives_empty_valid_tables(built, tmp_path):
    """contam, extract and zfit on the field's direct exposures alone: each finishes, says why."""
    from wfsspipe.contam import ContamSettings, make_contam
    from wfsspipe.extract import ExtractSettings, extract_field
    from wfsspipe.extraction_limit import LimitSettings
    from wfsspipe.grizli_env import GrizliSettings
    from wfsspipe.preprocess import read_visits
    from wfsspipe.zfit import ZfitSettings, fit_field

    grizli = GrizliSettings.from_config(yaml.safe_load((built / "config.yaml").read_text()))
    field, mosaic = products(built), products(built) / "Mosaic"
    visits = read_visits(field / "Prep" / f"{FIELD}_visits.ecsv")
    visits[visits["kind"] == "direct"].write(tmp_path / "visits.ecsv", format="ascii.ecsv")
    mosaics = {f: mosaic / f"{FIELD}-{f}_drz_sci.fits" for f in ("f150w", "f200w")}
    seg, catalog = mosaic / f"{FIELD}-ir_seg.fits", mosaic / f"{FIELD}-ir.cat.fits"
    contam = make_contam(FIELD, tmp_path / "visits.ecsv", field / "Prep", mosaics, seg, catalog,
                         tmp_path / "Contam", ContamSettings(), LimitSettings(), grizli)  # fmt: skip
    manifest = Table.read(contam.manifest, format="ascii.ecsv")
    assert len(manifest) == 0 and manifest.meta["model_rgb"] == {}
    assert (tmp_path / "Contam" / f"{FIELD}_contam_models.png").stat().st_size > 1000
    extracted = extract_field(FIELD, contam.manifest, seg, catalog, tmp_path / "Extractions",
                              ExtractSettings(LimitSettings()), grizli, pad=200)  # fmt: skip
    table = Table.read(extracted.table, format="ascii.ecsv")
    assert extracted.extracted == 0 and len(table) == len(Table.read(catalog))
    assert set(table["reason"]) == {"the field has no grism exposures"}
    fitted = fit_field(FIELD, extracted.table, tmp_path / "Redshifts", ZfitSettings(), grizli)
    results = Table.read(fitted.table)
    assert len(results) == 0 and results.meta["NOTE"] == "the field has no grism exposures"


def test_photometry_joins_the_fit(built, redshifts, tmp_path):
    """zfit.photometry.use on the session build's best multi-line emitter: grizli fits its
    spectra with the catalogue's band fluxes (the simulator's throughputs, named in its
    config), records those bands as given (f_lambda at the pivots), draws the SED figure, and
    the redshift agrees with the grism-only fit."""
    from wfsspipe import photometry
    from wfsspipe.grizli_env import GrizliSettings
    from wfsspipe.zfit import ZfitSettings, fit_field

    config = yaml.safe_load((built / "config.yaml").read_text())
    filters = config["zfit"]["photometry"]["filters"]  # written by the simulator
    assert sorted(filters) == ["F115W", "F150W", "F200W"] and all(
        map(Path.is_file, map(Path, filters.values()))
    )
    best = max((r for r in redshifts if r["flag"] == "good"), key=lambda r: r["nlines"])
    source = products(built) / "Extractions"
    extract = Table.read(source / f"{FIELD}_extract.ecsv")
    extract = extract[extract["id"] == best["id"]]
    folder = tmp_path / "Extractions"
    folder.mkdir()
    shutil.copy(source / extract["beams"][0], folder)
    extract.write(folder / f"{FIELD}_extract.ecsv", format="ascii.ecsv")
    catalog = products(built) / "Mosaic" / f"{FIELD}_phot.fits"
    z = float(best["z"])
    settings = ZfitSettings(z_range=(max(z - 0.3, 0.1), z + 0.3), dz=(0.01, 0.001), photometry=True,
                            phot_filters=tuple(sorted(filters.items())))  # fmt: skip
    result = fit_field(FIELD, folder / f"{FIELD}_extract.ecsv", tmp_path / "Redshifts", settings,
                       GrizliSettings.from_config(config), phot_catalog=catalog, threads=1)  # fmt: skip
    row = Table.read(result.table)[0]
    assert row["status"] == "ok", row["reason"]
    assert abs(row["z"] - z) < 0.005 * (1 + z)
    bands = photometry.band_names(config["zfit"]["photometry"]["filters"])
    columns = Table.read(catalog).colnames
    measured = [b for b in bands if any(c.startswith(f"{b.lower()}_flux_aper_") for c in columns)]
    assert row["nphot"] == len(measured) == 2  # the test field images F150W and F200W
    stem = f"{FIELD}_{int(best['id']):05d}"
    assert (tmp_path / "Redshifts" / f"{stem}.sed.png").is_file()
    fluxes, errors = photometry.read_catalog_photometry(catalog, measured, 1.0, 0.05)[
        int(best["id"])
    ]
    curves = photometry.load_filters(measured, filters)
    with fits.open(tmp_path / "Redshifts" / f"{stem}.full.fits") as hdul:
        header = hdul["ZFIT_STACK"].header
        for k, (band, flux) in enumerate(zip(curves, fluxes)):  # grizli counts from 0
            flam = flux * 1e-29 * 2.99792458e18 / photometry.pivot(band) ** 2
            assert header[f"PHOTF{k:03d}"] == pytest.approx(flam, rel=1e-4, abs=0), band.name
