"""wfsspipe.configcheck: the shipped config passes; each bad key gets one line naming it."""

import copy
from pathlib import Path

import pytest
import yaml

from wfsspipe.configcheck import ConfigError, check_config

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = ROOT / "workflow" / "schemas" / "config.schema.yaml"
CONFIG = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())


def test_shipped_config_passes():
    check_config(CONFIG, SCHEMA)


@pytest.mark.parametrize(
    "change, expected",
    [
        (("stage1", "keep_uncall", False), "config: stage1.keep_uncall: unknown key; did you mean stage1.keep_uncal?"),
        ((None, "fields_dirr", "x"), "config: fields_dirr: unknown key; did you mean fields_dir?"),
        (("download", "retries", "three"), "config: download.retries: 'three' is not of type 'integer'"),
        (("download", "zzz", 1), "config: download.zzz: unknown key; known keys of download: archive_url,"),
    ],
)  # fmt: skip
def test_bad_key_named_in_one_line(change, expected):
    section, key, value = change
    config = copy.deepcopy(CONFIG)
    (config[section] if section else config)[key] = value
    with pytest.raises(ConfigError) as caught:
        check_config(config, SCHEMA)
    message = str(caught.value)
    assert message.splitlines()[0].startswith(expected), message
    assert len(message.splitlines()) == 2  # the problem, then where the keys are documented


def test_many_problems_are_counted_not_listed():
    config = copy.deepcopy(CONFIG)
    for index in range(8):
        config[f"unknown_{index}"] = index
    message = str(pytest.raises(ConfigError, check_config, config, SCHEMA).value)
    assert "... and 3 more" in message and len(message.splitlines()) == 7
