#!/usr/bin/env python
"""Group JWST NIRISS imaging/WFSS exposures into sky fields; write FIELDS/fields.csv.

    python resources/scripts/computeFields.py [--proposal-ids 1571 3383 4681] [--separation 30]
        [--output-dir FIELDS] [--from-table OBS_TABLE]

See ``--help`` and the README ("Fields") for what it does and how it differs from the surveys'
Cartesian shortcut.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "workflow" / "scripts"))

from wfsspipe.fields.compute import main

if __name__ == "__main__":
    sys.exit(main())
