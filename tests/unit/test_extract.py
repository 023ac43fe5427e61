"""extract logic that needs no grizli: which catalogue sources are extracted, and why not."""

from __future__ import annotations

from astropy.table import Table

from wfsspipe.extract import select_sources


def test_select_sources_brightest_first_with_reasons():
    catalog = Table({"NUMBER": [1, 2, 3, 4, 5], "MAG_AUTO": [23.0, 13.0, 25.5, 21.0, 99.0]})
    ids, skipped = select_sources(catalog, mag_limit=25.0, bright_limit=14.0)
    assert ids == [4, 1]
    assert "fainter than the limit" in skipped[3]
    assert "bright_limit" in skipped[2]
    assert skipped[5] == "no magnitude"
    ids, skipped = select_sources(catalog, 25.0, 14.0, max_sources=1)
    assert ids == [4] and "max_sources" in skipped[1]
    ids, skipped = select_sources(catalog, None, 14.0)
    assert ids == [] and all("no extraction limit" in r for k, r in skipped.items() if k != 5)
