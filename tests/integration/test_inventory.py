"""tests/README.md's table of faults and bad inputs is the one the integration tests inject."""

import pytest

from . import inventory

pytestmark = [pytest.mark.integration]


def test_readme_table_is_computed_from_the_tests():
    written = inventory.current(inventory.README.read_text())
    assert written == inventory.table(), "run: python tests/integration/inventory.py"
    assert len(inventory.injections()) >= 30
