"""The synthetic NIRISS WFSS field: scene, grism configuration, CRDS cache, UNCAL ramps, archive."""
