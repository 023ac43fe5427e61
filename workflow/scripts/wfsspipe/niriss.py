"""Facts about NIRISS that more than one part of the workflow uses."""

# Blocking-filter half-power edges in Angstrom (NIRISS imaging and WFSS blocking filters).
FILTER_EDGES_ANGSTROM = {
    "F090W": (7960.0, 10050.0),
    "F115W": (10130.0, 12830.0),
    "F150W": (13300.0, 16710.0),
    "F200W": (17510.0, 22260.0),
}


def centre_angstrom(filt: str) -> float:
    """Centre of a blocking filter's half-power band (``F150W`` or ``f150w``)."""
    try:
        low, high = FILTER_EDGES_ANGSTROM[filt.upper()]
    except KeyError:
        raise ValueError(
            f"unknown NIRISS blocking filter {filt!r}; known: {', '.join(FILTER_EDGES_ANGSTROM)}"
        ) from None
    return 0.5 * (low + high)


def reference_filter(grism_filter: str, direct_filters) -> str | None:
    """The direct-image filter a grism filter's sources are modelled from.

    Its own when the field has direct imaging in it; otherwise the nearest in wavelength
    (PASSAGE and OutThere have grism filters without a direct image of their own: grizli treats
    programs 1571, 3383, 4681 as "mixed"). A tie goes to the redder filter. ``None`` without any
    direct filter. Names keep the case they are given in.
    """
    direct = list(direct_filters)
    if not direct:
        return None
    for filt in direct:
        if filt.upper() == grism_filter.upper():
            return filt
    target = centre_angstrom(grism_filter)
    return min(direct, key=lambda f: (abs(centre_angstrom(f) - target), -centre_angstrom(f)))
