"""Facts about NIRISS that more than one part of the workflow uses."""

# Blocking-filter half-power edges in Angstrom (NIRISS imaging and WFSS blocking filters).
FILTER_EDGES_ANGSTROM = {
    "F090W": (7960.0, 10050.0),
    "F115W": (10130.0, 12830.0),
    "F150W": (13300.0, 16710.0),
    "F200W": (17510.0, 22260.0),
}
