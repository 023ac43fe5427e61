"""download and stage1 run their scripts as programs (wfsspipe.shell_job): the command lines
Snakemake writes from the rules give the scripts what the rules say, and a command line that no
rule writes is refused with the reason."""

from __future__ import annotations

import json
import shlex

import pytest
import yaml
from support import ROOT, snakemake, workflow_config

from wfsspipe.crds_sync import job_environment
from wfsspipe.layout import Layout
from wfsspipe.shell_job import JsonParam, Program, job_python, parse_job

TABLE = ROOT / "tests/data/fields-lint.csv"
FIELD, EXPOSURE = "vir-00", "jw01571001001_02101_00001_nis"


def planned_commands(folder, **config) -> dict[str, list[str]]:
    """{rule: argv} of the shell commands a dry run plans for one RATE file."""
    (folder / "config.yaml").write_text(yaml.safe_dump({"fields_csv": str(TABLE), **config}))
    target = Layout("FIELDS").rate(FIELD, EXPOSURE)
    result = snakemake(folder, "-n", "-p", "--quiet", "host", "--", target)
    commands = {}
    for line in (result.stdout + result.stderr).splitlines():
        if line.startswith("Shell command: ") and line != "Shell command: None":  # None: script:
            argv = shlex.split(line.removeprefix("Shell command: "))
            commands[argv[1].rsplit("/", 1)[-1].removesuffix(".py")] = argv
    return commands


def test_the_planned_command_lines_carry_the_rules_params(tmp_path):
    # A config value with quotes, spaces and a non-ASCII letter survives the command line.
    site = {"archive_url": 'http://127.0.0.1:9/it\'s a "test"/Ω', "retries": 2}
    commands = planned_commands(
        tmp_path, download=site, stage1={"jump": {"rejection_threshold": 5.5}}
    )
    config = workflow_config(tmp_path)
    assert set(commands) == {"download", "stage1"}
    layout = Layout("FIELDS")

    download = parse_job(commands["download"][2:], "download")
    assert commands["download"][1] == str(ROOT / "workflow/scripts/download.py")
    assert dict(download.wildcards) == {"field": FIELD, "exposure": EXPOSURE}
    assert download.output == [layout.uncal(FIELD, EXPOSURE)]
    assert download.log == [layout.log(FIELD, "download", EXPOSURE)]
    assert download.table == str(TABLE)
    assert download.params.site == config["download"]
    assert download.params.site["archive_url"] == site["archive_url"]

    stage1 = parse_job(commands["stage1"][2:], "stage1")
    assert stage1.input == [layout.uncal(FIELD, EXPOSURE)]
    assert stage1.output == [layout.rate(FIELD, EXPOSURE)]
    assert stage1.log == [layout.log(FIELD, "stage1", EXPOSURE)]
    assert stage1.threads == 1
    assert stage1.params.settings == config["stage1"]
    assert stage1.params.settings["jump"]["rejection_threshold"] == 5.5
    crds = config["crds"]
    # The cache relative to the working folder, made absolute as the rule makes it.
    assert stage1.params.crds == job_environment(tmp_path / crds["path"], crds["context"])


def test_the_command_lines_hold_no_table_text(tmp_path):
    """The dataURI and size stay in the table: the download program reads its row itself."""
    commands = planned_commands(tmp_path)
    text = " ".join(commands["download"] + commands["stage1"])
    assert "mast:JWST/product" not in text and "POLYGON" not in text


def test_the_python_is_this_one_without_a_software_deployment(tmp_path):
    import sys

    commands = planned_commands(tmp_path)
    assert commands["download"][0] == commands["stage1"][0] == sys.executable


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--field", "vir-00; rm -rf ~", "--output", "x", "--log", "y"], "field 'vir-00; rm -rf ~' does not match"),
        (["--exposure", "jw1_nis", "--output", "x", "--log", "y"], "exposure 'jw1_nis' does not match"),
        (["--output", "x", "--log", "y", "--param", "settings={'a': 1}"], "parameter settings is not JSON"),
        (["--output", "x", "--log", "y", "--param", "settings"], "--param wants NAME=JSON"),
        (["--output", "x", "--param", "a=1"], "the following arguments are required: --log"),
    ],
)  # fmt: skip
def test_a_command_line_no_rule_writes_is_refused_with_the_reason(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_:
        parse_job(argv, "stage1")
    assert exit_.value.code == 2
    assert message in capsys.readouterr().err


def test_params_keep_their_types():
    settings = {
        "skip_steps": [],
        "keep_uncal": True,
        "jump": {"rejection_threshold": 4.0},
        "x": None,
    }
    job = parse_job(
        ["--output", "o", "--log", "l", "--param", f"settings={json.dumps(settings)}"], "stage1"
    )
    assert job.params.settings == settings
    assert job.wildcards == {} and job.input == [] and job.table is None


def test_json_params_record_as_their_dicts_and_programs_not_at_all():
    """Snakemake records a param's repr (builtin types only) to rerun jobs when it changes: a
    JsonParam records as the dict it replaced, a Program (paths of this machine) not at all."""
    from snakemake.persistence import UNREPRESENTABLE, PersistenceBase

    settings = {"jump": {"rejection_threshold": 4.0}, "skip_steps": []}
    assert repr(JsonParam(settings)) == repr(settings)
    assert f"{JsonParam(settings)}" == json.dumps(settings, sort_keys=True)
    program = Program("/a b/python", "/x/download.py", "--table", "/t.csv", site={"retries": 2})
    assert shlex.split(f"{program}") == [
        "/a b/python", "/x/download.py", "--table", "/t.csv", "--param", 'site={"retries": 2}'
    ]  # fmt: skip
    serialize = PersistenceBase._serialize_param_builtin  # what the params trigger records
    assert serialize(None, JsonParam(settings)) == repr(settings)
    assert serialize(None, program) is UNREPRESENTABLE


def test_the_job_python_follows_snakemakes_software_deployment():
    from snakemake.settings.types import DeploymentMethod as Method

    here = "/venv/bin/python"
    assert job_python(frozenset(), here) == here
    assert job_python({Method.CONDA}, here) == job_python({Method.APPTAINER}, here) == "python"
    assert job_python({Method.CONDA, Method.ENV_MODULES}, here) == "python"
    assert job_python({Method.ENV_MODULES}, here) == here  # no rule names a module
