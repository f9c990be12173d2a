"""engine/program.py: every process's edge (the Config or one line and exit 2) and its logging."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

from engine import exits, program
from tests.helpers import folders_env


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """setup() configures structlog for the whole process: put the defaults back after each test."""
    yield
    structlog.reset_defaults()


def refused(**kwargs: object) -> tuple[list[str], int | str | None]:
    """What load_config said, and the status it exited with."""
    said: list[str] = []
    with pytest.raises(SystemExit) as e:
        program.load_config(say=said.append, **kwargs)  # type: ignore[arg-type]
    return said, e.value.code


def test_a_good_environment_is_the_config(tmp_path: Path) -> None:
    env = folders_env(tmp_path, OWNER_UID="33")
    cfg = program.load_config(volumes=True, environ=env)
    assert cfg.unison_src == tmp_path / "host" and cfg.owner_uid == 33


def test_a_bad_value_is_one_line_naming_it_and_exit_2() -> None:
    said, status = refused(environ={"MONIT_INTERVAL": "soon"})
    assert status == exits.BAD_CONFIG == 2
    assert said == ["MONIT_INTERVAL='soon' is not valid: expected a number greater than 0"]


def test_the_line_goes_to_stderr_by_default(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        program.load_config(environ={"LOG_FORMAT": "xml"})
    out, err = capsys.readouterr()
    assert out == ""
    assert err == "native-sync: LOG_FORMAT='xml' is not valid: expected console or json\n"


def test_volumes_are_checked_only_when_asked(tmp_path: Path) -> None:
    env = folders_env(tmp_path, HOST_VOLUME=str(tmp_path / "missing"))
    assert program.load_config(environ=env).host_volume == tmp_path / "missing"
    said, status = refused(volumes=True, environ=env)
    assert status == exits.BAD_CONFIG
    assert len(said) == 1 and said[0].startswith(f"HOST_VOLUME='{tmp_path / 'missing'}' is not valid")


def test_unison_args_unison_refuses_are_one_line_naming_the_word(tmp_path: Path) -> None:
    """A real unison, dry (engine/unison/dryrun.py): the line is UNISON_ARGS's, naming -bogus."""
    env = folders_env(tmp_path, UNISON_ARGS="-times -bogus")
    said, status = refused(volumes=True, environ=env)
    assert status == exits.BAD_CONFIG
    assert said == [
        "UNISON_ARGS='-times -bogus' is not valid: expected arguments unison accepts: "
        "it does not know the option -bogus (unison -help lists them)"
    ]
    assert not any((tmp_path / "app").iterdir())  # nothing was touched


def test_start_sets_up_logging_as_configured(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    program.start("precopy", environ=folders_env(tmp_path, LOG_FORMAT="json", LOG_LEVEL="warning"))
    log = structlog.get_logger("native-sync")
    log.info("quiet")
    log.warning("heard", path="a")
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["heard"]
    assert json.loads(lines[0])["process"] == "precopy"


def test_json_logs_are_one_object_a_line_with_level_process_and_utc_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    program.setup("json", process="fsmonitor")
    structlog.get_logger("x").info("fsmonitor.started", replicas=2)
    line = json.loads(capsys.readouterr().err)
    assert line["event"] == "fsmonitor.started" and line["replicas"] == 2
    assert line["level"] == "info" and line["process"] == "fsmonitor"
    assert line["timestamp"].endswith("Z")  # UTC without TZ


def test_an_event_keeps_its_own_process_field(capsys: pytest.CaptureFixture[str]) -> None:
    program.setup("json", process="run")
    structlog.get_logger("x").info("unison.line", process="unison")
    assert json.loads(capsys.readouterr().err)["process"] == "unison"


def test_console_logs_are_one_plain_line(capsys: pytest.CaptureFixture[str]) -> None:
    program.setup("console", process="run", level="debug")
    structlog.get_logger("x").debug("watching", pid=11)
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "\033[" not in err  # no colour codes
    assert "[debug    ] watching" in err and "pid=11" in err and "process=run" in err


@pytest.mark.parametrize(
    ("level", "shown"),
    [("debug", ["d", "i", "w"]), ("info", ["i", "w"]), ("warning", ["w"]), ("bogus", ["i", "w"])],
)
def test_the_level_filters_below_it(level: str, shown: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    program.setup("json", level=level)
    log = structlog.get_logger("x")
    log.debug("d")
    log.info("i")
    log.warning("w")
    assert [json.loads(line)["event"] for line in capsys.readouterr().err.splitlines()] == shown
