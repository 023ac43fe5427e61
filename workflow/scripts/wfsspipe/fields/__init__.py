"""Sky fields: grouping NIRISS exposures on the sphere and naming them."""
