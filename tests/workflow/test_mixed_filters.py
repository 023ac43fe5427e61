"""Mixed-filter visits (PASSAGE, OutThere): a grism filter with no direct image of its own is
modelled from the nearest direct filter, and its emitters still get their redshifts.

On the session build (F150W and F200W, each with direct and grism exposures), contam runs again
as for a field whose F200W visit took no direct image: only the F150W mosaic is given. The
contamination models of the F200W exposures then come from the F150W image, which the
manifest names; the redshifts of the build's good emitters, refitted from these models, must
agree with the injected ones.
"""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.table import Table
from support import workflow_config

from wfsspipe.contam import ContamSettings, make_contam
from wfsspipe.extract import ExtractSettings, extract_field
from wfsspipe.extraction_limit import LimitSettings
from wfsspipe.grizli_env import GrizliSettings
from wfsspipe.zfit import ZfitSettings, fit_field

pytestmark = [pytest.mark.workflow, pytest.mark.slow]

FIELD = "sex-00"
FITTED = 3  # emitters refitted (each fit costs ~10 s a core)
Z_TOLERANCE = 0.005


def test_a_grism_filter_without_its_direct_image_is_modelled_from_the_nearest(
    built, synthetic_field, tmp_path
):
    config = workflow_config(built)
    grizli = GrizliSettings.from_config(config)
    field = built / "FIELDS" / FIELD
    mosaic = field / "Mosaic"
    seg, catalog = mosaic / f"{FIELD}-ir_seg.fits", mosaic / f"{FIELD}-ir.cat.fits"
    only_f150w = {"f150w": mosaic / f"{FIELD}-f150w_drz_sci.fits"}
    contam = make_contam(
        FIELD, field / "Prep" / f"{FIELD}_visits.ecsv", field / "Prep", only_f150w, seg, catalog,
        tmp_path / "Contam", ContamSettings.from_config(config["contam"]),
        LimitSettings.from_config(config["extract"]), grizli, threads=2,
    )  # fmt: skip
    manifest = Table.read(contam.manifest, format="ascii.ecsv")
    assert manifest.meta["reference_filters"] == {"F150W": "F150W", "F200W": "F150W"}
    assert set(manifest["reference_filter"]) == {"F150W"}
    assert set(manifest["filter"]) == {"F150W", "F200W"}
    # The F200W models carry the F200W data's dispersed flux although the sources' direct
    # fluxes are F150W's: refinement fits each bright source's spectrum to the grism data.
    for row in manifest[manifest["filter"] == "F200W"]:
        with fits.open(tmp_path / "Contam" / row["grismflt"]) as hdul:
            data, err, model = hdul["GSCI"].data, hdul["GERR"].data, hdul["MODEL"].data
            good = (hdul["GDQ"].data == 0) & (err > 0)
        bright = good & (model > 5 * err)
        assert bright.sum() > 500, row["exposure"]
        assert data[bright].sum() / model[bright].sum() == pytest.approx(1.0, abs=0.15)

    built_z = Table.read(field / "Redshifts" / f"{FIELD}_redshifts.fits")
    good = built_z[built_z["quality"] == 2]
    good.sort("nlines", reverse=True)
    chosen = [int(i) for i in good["id"][:FITTED]]
    assert len(chosen) == FITTED, "the session build has too few good redshifts to compare"
    extracted = extract_field(
        FIELD, contam.manifest, seg, catalog, tmp_path / "Extractions",
        ExtractSettings.from_config(config["extract"]), grizli, pad=int(config["contam"]["pad"]),
        threads=2,
    )  # fmt: skip
    table = Table.read(extracted.table, format="ascii.ecsv")
    assert set(chosen) <= set(table["id"][table["status"] == "extracted"])
    # Fit only the chosen emitters: the others are marked as not extracted in a copy.
    subset = table.copy()
    subset["status"][~np.isin(subset["id"], chosen)] = "skipped"
    subset_path = tmp_path / "Extractions" / f"{FIELD}_chosen_extract.ecsv"
    subset.write(subset_path, format="ascii.ecsv")
    fitted = fit_field(
        FIELD, subset_path, tmp_path / "Redshifts", ZfitSettings.from_config(config["zfit"]),
        grizli, threads=2,
    )  # fmt: skip
    results = Table.read(fitted.table)
    truth = Table.read(synthetic_field / "truth.ecsv")
    for source_id in chosen:
        row = results[results["id"] == source_id][0]
        distance = np.hypot((truth["ra"] - row["ra"]) * np.cos(np.radians(row["dec"])),
                            truth["dec"] - row["dec"]) * 3600  # fmt: skip
        z_true = float(truth["z"][np.argmin(distance)])
        assert distance.min() < 0.3
        assert row["status"] == "ok"
        assert abs(row["z"] - z_true) / (1 + z_true) < Z_TOLERANCE, (source_id, row["z"], z_true)
