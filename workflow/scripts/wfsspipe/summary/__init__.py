"""summary: products over all fields — the combined catalogue, the index page, the QC plots.

``catalog``
    :func:`~wfsspipe.summary.catalog.combine_catalogs`: one row per catalogue source of every
    field (``{fields_dir}/catalog.fits`` and ``.csv``): position, AB aperture magnitudes per
    filter from the mosaic photometry, redshift and line fluxes from the field's redshift table.
``index``
    :func:`~wfsspipe.summary.index.write_index`: ``{fields_dir}/index.html``, a table of the
    fields and an all-sky map of their footprints (inline SVG, plain HTML and CSS, relative
    links: works from ``file://`` and from any static web server).
``plots``
    the report's QC figures: visit layout of a field, redshift distribution, injected versus
    measured redshift (synthetic field).

Nothing here imports grizli: these jobs need numpy, astropy and matplotlib only.
"""

from __future__ import annotations


class SummaryError(ValueError):
    """An input of the summary cannot be used; the message names the file and what is wrong."""
