"""Bad inputs are refused before anything runs: real ``snakemake -n`` runs on the synthetic field
with a bad config value, fields table or target. Each must exit non-zero with a message naming
the key, column or row, and leave FIELDS/ untouched."""

from __future__ import annotations

import copy
import re
from concurrent.futures import ThreadPoolExecutor

import pytest
import yaml

from .helpers import Injection, write_table

pytestmark = [pytest.mark.integration]

E0 = "jw09999001001_02101_00001_nis"  # the synthetic field's first exposure (row 2 of the CSV)
E1 = "jw09999001001_02103_00001_nis"
GRIZLI_SOURCE = {"name": "nis-f150w-gr150r_skyflat.fits", "into": "CONF", "sha256": None,
                 "url": "https://zenodo.org/records/13741413/files/nis-f150w-gr150r_skyflat.fits"}  # fmt: skip

# (case, change to the config overlay, regexes the output must contain)
CONFIG_CASES = [
    ("download.retries of the wrong type", {"download": {"retries": "three"}},
     [r"config: download\.retries: 'three' is not of type 'integer'"]),
    ("download.retries out of range (0)", {"download": {"retries": 0}},
     [r"config: download\.retries: 0 is less than the minimum of 1"]),
    ("download.timeout out of range (-5)", {"download": {"timeout": -5}},
     [r"config: download\.timeout: -5 is less than or equal to the minimum of 0"]),
    ("download.archive_url not http(s)", {"download": {"archive_url": "file:///etc/passwd"}},
     [r"config: download\.archive_url: 'file:///etc/passwd' does not match"]),
    ("download.token_env with shell text", {"download": {"token_env": "TOKEN; cat ~/.netrc"}},
     [r"config: download\.token_env: 'TOKEN; cat ~/.netrc' does not match"]),
    ("stage1.jump.rejection_threshold of the wrong type",
     {"stage1": {"jump": {"rejection_threshold": "high"}}},
     [r"config: stage1\.jump\.rejection_threshold: 'high' is not of type 'number'"]),
    ("stage1.skip_steps naming no Detector1 step", {"stage1": {"skip_steps": ["everything"]}},
     [r"config: stage1\.skip_steps\[0\]: 'everything' is not one of group_scale, dq_init"]),
    ("unknown config key (typo keep_uncall)", {"stage1": {"keep_uncall": False}},
     [r"config: stage1\.keep_uncall: unknown key; did you mean stage1\.keep_uncal\?"]),
    ("unknown top-level key (typo feilds)", {"feilds": ["sex-00"]},
     [r"config: feilds: unknown key; did you mean fields\?"]),
    ("enum value with a typo (free line)", {"zfit": {"templates": {"search": "free line"}}},
     [r"config: zfit\.templates\.search: 'free line': did you mean 'free lines'\?"]),
    ("crds.context not a pinned .pmap", {"crds": {"context": "latest"}},
     [r"config: crds\.context: 'latest' does not match"]),
    ("fields entry that is a path", {"fields": ["../../x"]},
     [r"config: fields\[0\]: '../../x' does not match"]),
    ("unknown field name in config fields", {"fields": ["abc-99"]},
     [r"config 'fields' names abc-99, not in .*fields.csv \(known: sex-00\)"]),
    ("grizli_config source with a malformed sha256",
     {"grizli_config": {"sources": [dict(GRIZLI_SOURCE, sha256="abc")]}},
     [r"config: grizli_config\.sources\[0\]\.sha256: 'abc' does not match"]),
    ("grizli_config source unpacked outside CONF and templates",
     {"grizli_config": {"sources": [dict(GRIZLI_SOURCE, into="../etc")]}},
     [r"config: grizli_config\.sources\[0\]\.into: '\.\./etc' is not one of CONF, templates"]),
]  # fmt: skip


def _drop(*columns):
    return lambda rows: [{k: v for k, v in row.items() if k not in columns} for row in rows]


def _set(index, **values):
    def change(rows):
        rows[index].update(values)
        return rows

    return change


def _duplicate_first(rows):
    return [*rows, dict(rows[0])]


# (case, change to the fields table rows, regexes the output must contain)
TABLE_CASES = [
    ("fields table missing columns (s_region, size)", _drop("s_region", "size"),
     [r"fields.csv lacks the column\(s\) s_region, size; recompute it with computeFields.py"]),
    ("duplicate filename", _set(1, filename=f"{E0}_uncal.fits"),
     [rf"duplicate filename: {E0}_uncal.fits"]),
    ("duplicate row (same obs_id twice)", _duplicate_first, [rf"duplicate obs_id: {E0}"]),
    ("filename with path traversal (../../x)", _set(1, filename="../../x"),
     [rf"row 3 \({E1}\): data.filename must match pattern"]),
    ("filename that is an absolute path", _set(0, filename=f"/tmp/{E0}_uncal.fits"),
     [rf"row 2 \({E0}\): data.filename must match pattern"]),
    ("filename and obs_id naming different exposures", _set(1, filename=f"{E1[:-5]}9_nis_uncal.fits"),
     [rf"filename and obs_id disagree for {E1}"]),
    ("dataURI outside MAST products", _set(0, dataURI="https://example.org/x.fits"),
     [rf"row 2 \({E0}\): data.dataURI must match pattern"]),
    ("field name that is a path", _set(1, field="../sex-00"),
     [rf"row 3 \({E1}\): data.field must match pattern"]),
    ("s_region that does not parse", _set(1, s_region="POLYGON ICRS 150.1 2.2 north"),
     [rf"row 3 \({E1}\): s_region 'POLYGON ICRS 150.1 2.2 north' does not parse: not a number"]),
    ("s_region with two vertices", _set(0, s_region="POLYGON ICRS 150.1 2.2 150.2 2.3"),
     [rf"row 2 \({E0}\): s_region .* does not parse: a polygon needs at least 3"]),
    ("negative size", _set(0, size="-5"), [rf"row 2 \({E0}\): data.size must be bigger than or equal to 0"]),
]  # fmt: skip


def _grism_filter(filter_name):
    """Every grism exposure's blocking filter set to ``filter_name``."""

    def change(rows):
        for row in rows:
            if row["exp_type"] == "NIS_WFSS":
                row["pupil"] = filter_name
        return rows

    return change


# (case, change to the fields table rows, regexes): what grizli's configuration lacks. The
# synthetic field's GRIZLI/ holds F150W and F200W, and it configures no sources.
GRIZLI_CASES = [
    ("grism filter whose conf and sky flat $GRIZLI lacks (F115W)", _grism_filter("F115W"),
     [r"CONF/GR150C\.F115W\.221215\.conf: needed by the GR150C \+ F115W exposures \(sex-00/",
      r"CONF/nis-f115w-gr150r_skyflat\.fits: needed by", r"Zenodo record 7628094"]),
]  # fmt: skip

# (case, target under FIELDS/, regexes)
TARGET_CASES = [
    ("unknown field name in a target", f"uma-42/RATE/{E0}_rate.fits",
     [r"field 'uma-42' is not in .*fields.csv \(known: sex-00\); rerun computeFields.py"]),
    ("exposure not in the table", f"sex-00/RATE/{E0[:-5]}9_nis_rate.fits",
     [rf"exposure '{E0[:-5]}9_nis' is not in .*fields.csv"]),
]  # fmt: skip

INJECTED = [
    Injection(case, 1, f"snakemake -n exits 1 {names}; nothing written", "test_bad_inputs.py")
    for cases, names in [(CONFIG_CASES, "naming the config key"),
                         (TABLE_CASES, "naming the table, column and row"),
                         (GRIZLI_CASES, "naming each missing CONF file and where to get it"),
                         (TARGET_CASES, "naming the field or exposure and the table")]
    for case, *_ in cases
]  # fmt: skip


def _merge(base: dict, change: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in change.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _prepare(new_workflow, case, config_change=None, table_change=None, target=None):
    workflow = new_workflow("bad-input")
    if config_change:
        path = workflow.folder / "config.yaml"
        path.write_text(yaml.safe_dump(_merge(yaml.safe_load(path.read_text()), config_change)))
    if table_change:
        write_table(workflow.folder / "fields.csv", table_change(workflow.rows))
    target = workflow.fields_dir / (target or f"sex-00/RATE/{E0}_rate.fits")
    return case, workflow, target


@pytest.fixture(scope="module")
def dry_runs(new_workflow):
    """Every case's dry run (two at a time: each is a second or two of Snakemake start-up)."""
    prepared = [_prepare(new_workflow, "good inputs (control)")]
    prepared += [_prepare(new_workflow, case, config_change=c) for case, c, _ in CONFIG_CASES]
    prepared += [
        _prepare(new_workflow, case, table_change=t) for case, t, _ in TABLE_CASES + GRIZLI_CASES
    ]
    prepared += [_prepare(new_workflow, case, target=t) for case, t, _ in TARGET_CASES]

    def dry_run(item):
        case, workflow, target = item
        return case, (workflow, workflow.run("-n", "--", target, label="dry-run"))

    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(dry_run, prepared))


def test_good_inputs_pass(dry_runs):
    workflow, result = dry_runs["good inputs (control)"]
    assert result.returncode == 0, result.output[-3000:]
    assert "stage1" in result.output and "download" in result.output


BAD_CASES = CONFIG_CASES + TABLE_CASES + GRIZLI_CASES + TARGET_CASES


@pytest.mark.parametrize(
    "case, messages",
    [(case, messages) for case, _, messages in BAD_CASES],
    ids=[case for case, *_ in BAD_CASES],
)
def test_bad_input_is_refused_with_its_name(dry_runs, case, messages):
    workflow, result = dry_runs[case]
    assert result.returncode != 0, f"{case}: accepted\n{result.output[-2000:]}"
    for message in messages:
        assert re.search(message, result.output), (
            f"{case}: {message!r} not in\n{result.output[-3000:]}"
        )
    assert not workflow.fields_dir.exists()  # refused before any job ran


TYPO_CASES = [case for case, _, messages in CONFIG_CASES if "did you mean" in "".join(messages)]


@pytest.mark.parametrize("case", TYPO_CASES)
def test_config_typo_message_is_short(dry_runs, case):
    """A typo gets a few lines naming the key and the right one, not jsonschema's schema dump."""
    workflow, result = dry_runs[case]
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) <= 12, f"{case}: {len(lines)} lines\n{result.output}"
    assert "Failed validating" not in result.output  # jsonschema's schema dump
