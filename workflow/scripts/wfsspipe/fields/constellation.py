"""IAU constellations of sky positions, computed as astropy's ``get_constellation`` does.

astropy (7.2) transforms ICRS to ``PrecessedGeocentric(equinox="B1875")`` (GCRS at J2000: light
deflection by the Sun and annual aberration, then the IAU 2006 bias-precession to B1875) and looks
the position up in the Delporte boundaries as tabulated by Roman (1987), the first band in the
table that holds it. This does the same steps with the same ERFA routines (pyerfa, which astropy
itself calls) and reads the same boundary table from the installed astropy package, without
importing astropy.coordinates: that import costs more than everything else ``computeFields.py``
does to name the fields. tests/unit/test_fields_fast_paths.py checks positions and names against
astropy's (agreement to 1e-12 degrees; a name could differ only for a position that close to a
boundary).
"""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import numpy as np

# Julian dates (two-part) as astropy's Time gives them: J2000 in TT and TDB (the GCRS obstime
# of PrecessedGeocentric's default frame) and the equinox B1875 in TT.
J2000_TT = (2451545.0, 0.0)
J2000_TDB = (2451545.0, -1.1493888766642878e-09)
B1875_TT = (2405889.0, 0.2585504749986285)
BOUNDARIES = Path("coordinates") / "data" / "constellation_data_roman87.dat"


class ConstellationError(ValueError):
    """The boundary table is missing or a position is in no constellation (cannot happen)."""


@functools.cache
def boundaries() -> tuple[np.ndarray, np.ndarray, np.ndarray, list[str]]:
    """Roman (1987) bands: lower RA, upper RA (hours), lower Dec (deg), abbreviation (B1875)."""
    spec = importlib.util.find_spec("astropy")  # finds the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ConstellationError("astropy is not installed: its constellation table is needed")
    path = Path(list(spec.submodule_search_locations)[0]) / BOUNDARIES
    lower, upper, south, names = [], [], [], []
    for line in path.read_text().splitlines():
        words = line.split()
        if not words or line.lstrip().startswith("#"):
            continue
        lower.append(float(words[0]))
        upper.append(float(words[1]))
        south.append(float(words[2]))
        names.append(words[3])
    return np.array(lower), np.array(upper), np.array(south), names


def b1875(ra_deg, dec_deg) -> tuple[np.ndarray, np.ndarray]:
    """RA (hours) and Dec (degrees) in astropy's PrecessedGeocentric(equinox="B1875") frame."""
    import erfa

    heliocentric, barycentric = erfa.epv00(*J2000_TDB)
    observer = np.zeros((), dtype=erfa.dt_pv)  # the geocentre
    astrom = erfa.apcs(*J2000_TT, observer, barycentric, heliocentric["p"])
    direction = erfa.s2c(
        np.deg2rad(np.atleast_1d(np.asarray(ra_deg, dtype=float))),
        np.deg2rad(np.atleast_1d(np.asarray(dec_deg, dtype=float))),
    )
    natural = erfa.ld(1.0, direction, direction, astrom["eh"], astrom["em"], 1e-6)
    proper = erfa.ab(natural, astrom["v"], astrom["em"], astrom["bm1"])
    precessed = proper @ erfa.fw2m(*erfa.pfw06(*B1875_TT)).T
    x, y, z = precessed[:, 0], precessed[:, 1], precessed[:, 2]
    ra = np.rad2deg(np.arctan2(y, x)) % 360.0
    dec = np.rad2deg(np.arctan2(z, np.hypot(x, y)))
    return ra / 15.0, dec


def constellations(ra_deg, dec_deg) -> list[str]:
    """IAU abbreviations (``UMa``) at ICRS positions in degrees."""
    hours, dec = b1875(ra_deg, dec_deg)
    lower, upper, south, names = boundaries()
    found = np.full(len(hours), -1)
    for band in range(len(names)):
        unset = found == -1
        if not unset.any():
            break
        found[unset & (lower[band] < hours) & (hours < upper[band]) & (dec > south[band])] = band
    if (found == -1).any():
        raise ConstellationError(
            f"no constellation for B1875 RA {hours[found == -1][0]} h, Dec {dec[found == -1][0]}"
        )
    return [names[band] for band in found]
