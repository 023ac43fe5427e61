"""computeFields' start-up shortcuts agree with the astropy code they replace.

The ECSV reader (wfsspipe.fields.ecsv) against astropy.table, the constellation lookup
(wfsspipe.fields.constellation) against astropy.coordinates.get_constellation, and the sky plot
(wfsspipe.fields.skyplot, Pillow instead of matplotlib).
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from astropy.table import MaskedColumn, Table
from PIL import Image
from support import ROOT

from wfsspipe.fields import compute
from wfsspipe.fields.constellation import b1875, constellations
from wfsspipe.fields.ecsv import read_ecsv_frame
from wfsspipe.fields.table import frame_of_table, read_observation_table

# The public table lives beside the clone (../shared); WFSSPIPE_PUBLIC_TABLE points elsewhere.
PUBLIC = Path(
    os.environ.get(
        "WFSSPIPE_PUBLIC_TABLE", ROOT.parent / "shared" / "data" / "fields" / "public.ecsv"
    )
)
IN_REPOSITORY = ROOT / "tests" / "data" / "mast_observations.ecsv"


def astropy_frame(path):
    return frame_of_table(Table.read(path, format="ascii.ecsv"))


@pytest.mark.parametrize("path", [IN_REPOSITORY, PUBLIC], ids=["tests-data", "public"])
def test_ecsv_reader_agrees_with_astropy_on_mast_tables(path):
    if not path.exists():
        pytest.skip(f"{path} is not here (set WFSSPIPE_PUBLIC_TABLE)")
    fast = read_ecsv_frame(path)
    assert fast is not None, "the fast reader gave up on a plain MAST table"
    pd.testing.assert_frame_equal(frame_of_table(fast), astropy_frame(path), check_exact=True)


def test_ecsv_reader_masked_values_and_quoting(tmp_path):
    table = Table.read(IN_REPOSITORY, format="ascii.ecsv")[:40]
    table["t_min"] = MaskedColumn(table["t_min"], mask=np.arange(40) % 7 == 0)
    table["filters"] = MaskedColumn(table["filters"], mask=np.arange(40) % 5 == 0)
    table["obs_title"] = table["obs_title"].astype("U40")
    table["obs_title"][3] = '  a "quoted"  title  '
    path = tmp_path / "masked.ecsv"
    table.write(path)
    fast = read_ecsv_frame(path)
    assert fast is not None
    assert fast["t_min"].isna().sum() == 6 and (fast["filters"] == "").sum() == 8
    pd.testing.assert_frame_equal(frame_of_table(fast), astropy_frame(path), check_exact=True)


def test_ecsv_reader_leaves_what_it_does_not_know_to_astropy(tmp_path):
    table = Table.read(IN_REPOSITORY, format="ascii.ecsv")[:10]
    table["calib_level"] = MaskedColumn(table["calib_level"], mask=np.arange(10) == 2)
    masked_int = tmp_path / "masked_int.ecsv"
    table.write(masked_int)
    assert read_ecsv_frame(masked_int) is None
    # read_observation_table then reads it with astropy: same rows, a Table.
    assert isinstance(read_observation_table(masked_int), Table)
    table = Table.read(IN_REPOSITORY, format="ascii.ecsv")[:10]
    table["vector"] = np.zeros((10, 2))
    with_array = tmp_path / "array.ecsv"
    table.write(with_array)
    assert read_ecsv_frame(with_array) is None
    broken = tmp_path / "broken.ecsv"
    lines = IN_REPOSITORY.read_text().splitlines()
    broken.write_text("\n".join(lines[:60] + [lines[60] + " extra"] + lines[61:70]) + "\n")
    assert read_ecsv_frame(broken) is None
    with pytest.raises(Exception, match="could not be read"):
        read_observation_table(broken)


def test_constellations_match_astropy():
    from astropy.coordinates import PrecessedGeocentric, SkyCoord, get_constellation

    rng = np.random.default_rng(3)
    ra = np.concatenate([rng.uniform(0, 360, 3000), [0.0, 359.9999, 180.0, 12.0, 250.0]])
    dec = np.concatenate(
        [np.rad2deg(np.arcsin(rng.uniform(-1, 1, 3000))), [90, -90, 0, 89.9, -89.9]]
    )
    coords = SkyCoord(ra, dec, unit="deg")
    assert constellations(ra, dec) == list(get_constellation(coords, short_name=True))
    hours, declination = b1875(ra, dec)
    theirs = coords.transform_to(PrecessedGeocentric(equinox="B1875"))
    gap = ((hours - theirs.ra.hour + 12) % 24 - 12) * 15 * np.cos(np.deg2rad(declination))
    assert np.abs(gap).max() < 1e-12 and np.abs(declination - theirs.dec.deg).max() < 1e-12


def test_sky_plot_is_a_png_with_the_fields(tmp_path):
    table = pd.DataFrame(
        {
            "field": ["uma-00", "uma-00", "vir-00"],
            "s_ra": [165.0, 165.01, 190.0],
            "s_dec": [56.0, 56.0, 2.0],
            "proposal_id": ["1571", "1571", "4681"],
            "obs_id": ["a", "b", "c"],
        }
    )
    path = tmp_path / "fields.png"
    compute.plot_fields(table, path)
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1210, 660)
        pixels = np.asarray(image.convert("RGB")).astype(int)
    # Both programs' colours (tab10 blue, orange) are drawn.
    for colour in [(31, 119, 180), (255, 127, 14)]:
        assert (np.abs(pixels - colour).sum(axis=-1) < 30).sum() > 20
