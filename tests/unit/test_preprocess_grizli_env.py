"""The grizli session: working folder, environment, offline guards, logging, library exits."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from wfsspipe.grizli_env import GrizliDatabaseDisabled, GrizliError, GrizliSettings, grizli_session


@pytest.fixture()
def settings(tmp_path):
    (tmp_path / "GRIZLI" / "CONF").mkdir(parents=True)
    crds = {
        "CRDS_PATH": str(tmp_path / "crds"),
        "CRDS_CONTEXT": "jwst_9000.pmap",
        "CRDS_MODE": "local",
    }
    return GrizliSettings(tmp_path / "GRIZLI", crds, pure_parallel_wcs=False)


def test_session_sets_and_restores_everything(settings, tmp_path):
    import grizli
    import grizli.aws.db as grizli_db
    from grizli import jwst_utils, prep, utils

    before = {
        "cwd": os.getcwd(),
        "sql": grizli_db.SQL,
        "logfile": utils.LOGFILE,
        "pp": jwst_utils.DO_PURE_PARALLEL_WCS,
        "path": prep.GRIZLI_PATH,
        "env": os.environ.get("CRDS_CONTEXT"),
    }
    work = tmp_path / "work"
    log_file = tmp_path / "job.log"
    with grizli_session(work, settings, log_file):
        assert Path(os.getcwd()) == work.resolve()
        assert os.environ["GRIZLI"] == str(settings.grizli_path)
        assert os.environ["CRDS_CONTEXT"] == "jwst_9000.pmap"
        assert os.environ["CRDS_READONLY_CACHE"] == "1"
        assert jwst_utils.DO_PURE_PARALLEL_WCS is False
        assert prep.GRIZLI_PATH.rstrip("/") == str(settings.grizli_path)
        assert grizli.GRIZLI_PATH.rstrip("/") == str(settings.grizli_path)
        logfile = utils.LOGFILE
        assert logfile == str(log_file.resolve())
        with pytest.raises(GrizliDatabaseDisabled):
            grizli_db.SQL("select 1")
        # grizli's callers treat a failed query as "no entries": nothing leaves the machine.
        assert prep.apply_region_mask_from_db("jw01571001001_02101_00001_nis_rate.fits") is None
        print("printed by grizli")
        utils.log_comment(utils.LOGFILE, "logged by grizli", verbose=False)
    assert os.getcwd() == before["cwd"]
    after = {
        "logfile": utils.LOGFILE,
        "pp": jwst_utils.DO_PURE_PARALLEL_WCS,
        "path": prep.GRIZLI_PATH,
    }
    assert grizli_db.SQL is before["sql"]
    assert after == {key: before[key] for key in after}
    assert os.environ.get("CRDS_CONTEXT") == before["env"]
    text = log_file.read_text()
    assert "printed by grizli" in text and "logged by grizli" in text


def test_session_is_restored_after_a_failure(settings, tmp_path):
    cwd = os.getcwd()
    with pytest.raises(ZeroDivisionError), grizli_session(tmp_path / "work", settings):
        1 / 0  # noqa: B018
    assert os.getcwd() == cwd


def test_a_library_exit_becomes_an_error_naming_the_exposure_and_the_cause(settings, tmp_path):
    with grizli_session(tmp_path / "work", settings) as session:
        exposure = "jw01571001001_02101_00001_nis_rate.fits"
        with pytest.raises(GrizliError) as error, session.step(exposure, "initialising"):
            logging.getLogger("CRDS").error("(FATAL) CRDS server connection FAILED.")
            sys.exit(-1)
        message = str(error.value)
        assert message.startswith("jw01571001001_02101_00001_nis_rate.fits: initialising")
        assert "SystemExit(-1)" in message and "CRDS server connection FAILED" in message
        # No error logged: the message says so instead of inventing a cause.
        with (
            pytest.raises(GrizliError, match="no error was logged"),
            session.step("visit x", "processing"),
        ):
            raise SystemExit(2)
        # Other failures name the subject too, chained to the original.
        with pytest.raises(GrizliError) as error, session.step("visit x", "processing"):
            raise KeyError("PUPIL")
        assert str(error.value) == "visit x: processing failed: KeyError: 'PUPIL'"
        assert isinstance(error.value.__cause__, KeyError)


def test_missing_grizli_configuration_is_refused_before_anything_runs(tmp_path):
    settings = GrizliSettings(tmp_path / "nowhere", {})
    with pytest.raises(GrizliError, match="grizli.path"), grizli_session(tmp_path, settings):
        pass


def test_settings_from_the_workflow_config(tmp_path):
    config = {
        "grizli": {"path": str(tmp_path / "G"), "pure_parallel_wcs": True},
        "crds": {"path": str(tmp_path / "crds"), "context": "jwst_1413.pmap"},
    }
    settings = GrizliSettings.from_config(config)
    assert settings.pure_parallel_wcs is True
    env = settings.environment()
    assert env["GRIZLI"] == str(tmp_path / "G") and env["CRDS_CONTEXT"] == "jwst_1413.pmap"
    assert env["CRDS_MODE"] == "local" and "serverless" in env["CRDS_SERVER_URL"]
