"""Rule download: fetch and verify one UNCAL product.

A `shell:` rule's program (see wfsspipe.shell_job): `download.py --field F --exposure E --table
CSV --output UNCAL --log LOG --param site=JSON`. What to fetch (the dataURI and size) comes from
the exposure's row of the fields table, how (archive_url, retries, ...) from the config's
download section (the site parameter).
"""

import os
import sys
from pathlib import Path

from wfsspipe.download import DownloadError, DownloadSpec, fetch
from wfsspipe.fieldtable import FieldTableError, load_field_table, uncal_size
from wfsspipe.logs import milestone, rule_job
from wfsspipe.shell_job import parse_job

job = parse_job(sys.argv[1:], "download")

with rule_job(job, DownloadError, FieldTableError) as log:
    row = load_field_table(job.table).row(job.wildcards.field, job.wildcards.exposure)
    site = job.params.site  # transport settings: not the rule's params (see the rule)
    spec = DownloadSpec(
        uri=row["dataURI"],
        output=Path(job.output[0]),
        expected_size=uncal_size(row),
        archive_url=site["archive_url"],
        token=os.environ.get(site["token_env"]) or None,
        retries=site["retries"],
        timeout=site["timeout"],
    )
    log.info(
        "fetching %s (%s bytes expected)%s",
        spec.uri,
        spec.expected_size or "unknown",
        " with a MAST token" if spec.token else "",
    )
    path = fetch(spec)
    milestone(log, "UNCAL downloaded and verified (%.1f MB)", path.stat().st_size / 1e6)
