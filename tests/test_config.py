"""engine/config.py: every setting converted, and bad values refused at the edge."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from engine import config
from engine.config import BUILTIN_IGNORES, ConfigError, load
from tests.helpers import entrypoint_env, run_entrypoint, snapshot

DOCKER_SYNC_ARGS = "-ignore='Name .git' -prefer /host_sync -numericids -auto -batch"


# --- defaults and good values ----------------------------------------------------------


def test_defaults() -> None:
    cfg = load({})
    assert cfg.host_volume == Path("/host_sync")
    assert cfg.app_volume == Path("/app_sync")
    assert cfg.roots == (Path("/host_sync"), Path("/app_sync"))
    assert cfg.unison_args == ()
    assert cfg.unison_watch_args == ("-repeat", "watch")
    assert cfg.excludes == ()
    assert cfg.prefer == "host"
    assert cfg.prefer_root == "/host_sync"
    assert (cfg.owner_uid, cfg.group_id) == (0, 0)
    assert cfg.max_inotify_watches is None
    assert cfg.monit_enable is True
    assert cfg.monit_interval == 5
    assert cfg.monit_high_cpu_cycles == 2
    assert cfg.monit_cpu_threshold == 50
    assert cfg.rescan_interval == 300
    assert cfg.runtime_dir == Path("/run/native-sync")
    assert cfg.supervisor_socket == Path("/run/native-sync/supervisor.sock")
    assert cfg.unison_dir == Path("/unison")
    assert cfg.unison_bin == "unison"
    assert cfg.log_format == "console"
    assert cfg.tz is None


def test_every_variable_converted() -> None:
    cfg = load(
        {
            "HOST_VOLUME": "/h",
            "APP_VOLUME": "/a",
            "UNISON_ARGS": "-numericids -times",
            "UNISON_WATCH_ARGS": "-repeat watch+60",
            "UNISON_EXCLUDES": "Name .git",
            "UNISON_SYNC_PREFER": "app",
            "OWNER_UID": "1000",
            "GROUP_ID": "33",
            "MAX_INOTIFY_WATCHES": "524288",
            "MONIT_ENABLE": "false",
            "MONIT_INTERVAL": "0.5",
            "MONIT_HIGH_CPU_CYCLES": "3",
            "MONIT_CPU_THRESHOLD": "80",
            "SYNC_RESCAN_INTERVAL": "0",
            "SYNC_RUNTIME_DIR": "/tmp/rt",
            "UNISON": "/state",
            "UNISON_BIN": "/opt/unison",
            "LOG_FORMAT": "JSON",
            "TZ": "Europe/Berlin",
        }
    )
    assert cfg.roots == (Path("/h"), Path("/a"))
    assert cfg.unison_args == ("-numericids", "-times")
    assert cfg.unison_watch_args == ("-repeat", "watch+60")
    assert cfg.excludes == ("Name .git",)
    assert cfg.prefer_root == "/a"
    assert (cfg.owner_uid, cfg.group_id) == (1000, 33)
    assert cfg.max_inotify_watches == 524288
    assert cfg.monit_enable is False
    assert cfg.monit_interval == 0.5
    assert cfg.monit_high_cpu_cycles == 3
    assert cfg.monit_cpu_threshold == 80
    assert cfg.rescan_interval == 0
    assert cfg.runtime_dir == Path("/tmp/rt")
    assert cfg.unison_dir == Path("/state")
    assert cfg.unison_bin == "/opt/unison"
    assert cfg.log_format == "json"
    assert cfg.tz == "Europe/Berlin"


def test_watch_mode_unison_pauses_20_ms_after_a_sync_unless_told() -> None:
    from engine.unison import launch

    assert launch.environment(load({}))["UNISON_WATCH_INTERVAL"] == "0.02"
    assert launch.environment(load({"UNISON_WATCH_INTERVAL": "0.5"}))["UNISON_WATCH_INTERVAL"] == "0.5"
    assert launch.environment(load({"UNISON_WATCH_INTERVAL": "0"}))["UNISON_WATCH_INTERVAL"] == "0"


def test_unison_journals_its_archives_and_skips_the_fingerprint_cache_unless_told() -> None:
    from engine.unison import launch

    env = launch.environment(load({}))
    assert (env["UNISON_ARCHIVE_JOURNAL"], env["UNISON_FPCACHE"]) == ("0", "full-scans")
    assert launch.environment(load({"UNISON_ARCHIVE_JOURNAL": "5"}))["UNISON_ARCHIVE_JOURNAL"] == "5"
    assert "UNISON_ARCHIVE_JOURNAL" not in launch.environment(load({"UNISON_ARCHIVE_JOURNAL": "off"}))


def test_a_one_shot_tunes_the_gc_only_without_archives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 13's big minor heap serves a scan with no archive; a warm one-shot keeps OCaml's defaults
    (issue 24: a warm start at 400k files spent ~0.5 s more CPU with it)."""
    from engine.unison import launch

    monkeypatch.delenv("OCAMLRUNPARAM", raising=False)
    cfg = load({"UNISON": str(tmp_path)})
    assert launch.one_shot_environment(cfg)["OCAMLRUNPARAM"] == launch.ONE_SHOT_OCAMLRUNPARAM
    (tmp_path / "ar0123456789abcdef").write_bytes(b"")  # an archive: a warm start
    assert "OCAMLRUNPARAM" not in launch.one_shot_environment(cfg)
    assert "OCAMLRUNPARAM" not in launch.environment(cfg)  # watch mode: the defaults
    monkeypatch.setenv("OCAMLRUNPARAM", "s=1M")
    assert launch.one_shot_environment(cfg)["OCAMLRUNPARAM"] == "s=1M"  # ours wins


def test_a_retired_variable_is_named_not_refused() -> None:
    assert load({"SYNC_HOT_DELAY": "3"}).retired == ("SYNC_HOT_DELAY",)
    assert load({}).retired == ()


def test_unison_src_and_dest_override_the_volumes() -> None:
    cfg = load({"HOST_VOLUME": "/h", "APP_VOLUME": "/a", "UNISON_SRC": "/s", "UNISON_DEST": "/d"})
    assert cfg.roots == (Path("/s"), Path("/d"))
    assert cfg.prefer_root == "/s"


@pytest.mark.parametrize(
    ("word", "value"),
    [
        ("true", True),
        ("TRUE", True),
        ("yes", True),
        ("on", True),
        ("1", True),
        ("false", False),
        ("No", False),
        ("off", False),
        ("0", False),
    ],
)
def test_booleans(word: str, value: bool) -> None:
    assert load({"MONIT_ENABLE": word}).monit_enable is value


def test_empty_values_mean_the_default() -> None:
    # compose passes "VAR=" for a variable set to nothing
    cfg = load({"MONIT_INTERVAL": "", "OWNER_UID": " ", "UNISON_SYNC_PREFER": ""})
    assert (cfg.monit_interval, cfg.owner_uid, cfg.prefer) == (5, 0, "host")


# --- UNISON_ARGS: shell words, never evaluated -----------------------------------------


def test_unison_args_split_as_a_shell_would() -> None:
    cfg = load({"UNISON_ARGS": DOCKER_SYNC_ARGS})
    assert cfg.unison_args == ("-ignore=Name .git", "-prefer", "/host_sync", "-numericids", "-auto", "-batch")


@pytest.mark.parametrize("text", ["$(touch {marker})", "`touch {marker}`", "; touch {marker}"])
def test_unison_args_are_never_evaluated(tmp_path: Path, text: str) -> None:
    marker = tmp_path / "marker"
    value = text.format(marker=marker)
    cfg = load({"UNISON_ARGS": f"-ignore='Name x' {value} $HOME"})
    assert "$HOME" in cfg.unison_args
    assert any("touch" in w for w in cfg.unison_args)
    assert not marker.exists()


def test_unison_args_double_quotes_and_escapes() -> None:
    cfg = load({"UNISON_ARGS": '-ignore "Name my file" -ignore Path\\ a\\ b'})
    assert cfg.unison_args == ("-ignore", "Name my file", "-ignore", "Path a b")


def test_unbalanced_quote_in_unison_args() -> None:
    with pytest.raises(ConfigError) as e:
        load({"UNISON_ARGS": "-ignore='Name x"})
    assert e.value.variable == "UNISON_ARGS"
    assert "Name x" in str(e.value)


# --- UNISON_EXCLUDES --------------------------------------------------------------------


def test_excludes_one_per_line() -> None:
    cfg = load({"UNISON_EXCLUDES": "Name .git\n\n  Path a/b  \nBelowPath c\nRegex .*\\.log\n"})
    assert cfg.excludes == ("Name .git", "Path a/b", "BelowPath c", "Regex .*\\.log")


def test_excludes_as_ignore_words() -> None:
    cfg = load({"UNISON_EXCLUDES": "-ignore='Name .git' -ignore 'Path a b' -ignore=Name\\ x"})
    assert cfg.excludes == ("Name .git", "Path a b", "Name x")


def test_excludes_mixed_lines_and_words() -> None:
    cfg = load({"UNISON_EXCLUDES": "-ignore='Name a'\nName b"})
    assert cfg.excludes == ("Name a", "Name b")


@pytest.mark.parametrize(
    "value",
    [
        "Foo x",
        "Name",
        "node_modules",
        "-ignore='Nope x'",
        "-ignore='Name a' -prefer x",
        # unison 2.52 stops on these: a malformed glob, an absolute Path, a broken regex
        "Name {a,b",
        "Name [ab",
        "Path /abs",
        "BelowPath /abs/x",
        "Regex (unclosed",
    ],
)
def test_bad_excludes(value: str) -> None:
    with pytest.raises(ConfigError) as e:
        load({"UNISON_EXCLUDES": value})
    assert e.value.variable == "UNISON_EXCLUDES"


# --- the ignore patterns (Config.ignores): UNISON_EXCLUDES and UNISON_ARGS' -ignore words ---


def test_ignores_join_excludes_and_the_ignore_words_of_unison_args() -> None:
    cfg = load(
        {
            "UNISON_EXCLUDES": "Name a\nPath b/c",
            "UNISON_ARGS": "-ignore='Name .git' -times -ignore 'BelowPath d e' -prefer newer",
        }
    )
    assert cfg.ignores == ("Name a", "Path b/c", "Name .git", "BelowPath d e", *BUILTIN_IGNORES)


def test_no_ignores_but_the_conflict_copies_and_their_store() -> None:
    assert load({"UNISON_ARGS": "-times -numericids"}).ignores == BUILTIN_IGNORES


@pytest.mark.parametrize("ignorenot", ["-ignorenot 'Name keep'", "-ignorenot='Name keep'"])
def test_an_ignorenot_means_nothing_is_known_to_be_ignored(ignorenot: str) -> None:
    cfg = load({"UNISON_EXCLUDES": "Name a", "UNISON_ARGS": f"-ignore='Name b' {ignorenot}"})
    assert cfg.ignores == ()
    assert cfg.excludes == ("Name a",)  # unison still gets them


@pytest.mark.parametrize("value", ["-ignore='Nope x'", "-ignore='Path /abs'", "-ignore=Name", "-ignore"])
def test_a_bad_ignore_in_unison_args_is_refused(value: str) -> None:
    with pytest.raises(ConfigError) as e:
        load({"UNISON_ARGS": f"-times {value}"})
    assert e.value.variable == "UNISON_ARGS"
    assert e.value.value == f"-times {value}"


# --- UNISON_SYNC_PREFER -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "root"),
    [
        ("host", "/h"),
        ("app", "/a"),
        ("newer", "newer"),
        ("/h", "/h"),
        ("/a", "/a"),
        ("/h/", "/h"),
        ("default", "/h"),
        ("src", "/h"),
        ("dest", "/a"),
    ],
)
def test_prefer(value: str, root: str) -> None:
    cfg = load({"HOST_VOLUME": "/h", "APP_VOLUME": "/a", "UNISON_SYNC_PREFER": value})
    assert cfg.prefer_root == root


@pytest.mark.parametrize("value", ["both", "HOSTS", "relative/path", "older"])
def test_unknown_prefer(value: str) -> None:
    with pytest.raises(ConfigError) as e:
        load({"UNISON_SYNC_PREFER": value})
    assert e.value.variable == "UNISON_SYNC_PREFER"
    assert "host" in e.value.accepted


@pytest.mark.parametrize("value", ["/elsewhere", "/h/sub", "/"])
def test_prefer_path_that_is_not_a_root(value: str) -> None:
    # unison itself would stop later: "-prefer /elsewhere ... is not one of the current roots"
    with pytest.raises(ConfigError) as e:
        load({"HOST_VOLUME": "/h", "APP_VOLUME": "/a", "UNISON_SYNC_PREFER": value})
    assert e.value.variable == "UNISON_SYNC_PREFER"
    assert e.value.value == value
    assert "/h" in e.value.accepted and "/a" in e.value.accepted


# --- converters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MONIT_INTERVAL", "five"),
        ("MONIT_INTERVAL", "0"),
        ("MONIT_INTERVAL", "-1"),
        ("MONIT_INTERVAL", "nan"),
        ("MONIT_INTERVAL", "inf"),
        ("SYNC_RESCAN_INTERVAL", "-5"),
        ("SYNC_RESCAN_INTERVAL", "soon"),
        ("MONIT_HIGH_CPU_CYCLES", "0"),
        ("MONIT_HIGH_CPU_CYCLES", "2.5"),
        ("MONIT_CPU_THRESHOLD", "-10"),
        ("OWNER_UID", "www-data"),
        ("OWNER_UID", "-1"),
        ("GROUP_ID", "4294967296"),
        ("MAX_INOTIFY_WATCHES", "-1"),
        ("MAX_INOTIFY_WATCHES", "lots"),
        ("MONIT_ENABLE", "maybe"),
        ("LOG_FORMAT", "xml"),
        ("SYNC_RUNTIME_DIR", "/" + "r" * 100),
    ],
)
def test_bad_value_names_variable_value_and_what_is_accepted(variable: str, value: str) -> None:
    with pytest.raises(ConfigError) as e:
        load({variable: value})
    assert e.value.variable == variable
    assert e.value.value == value
    message = str(e.value)
    assert variable in message and repr(value) in message
    assert "expected" in message and e.value.accepted in message
    assert "\n" not in message


def test_runtime_dir_fits_a_unix_socket() -> None:
    longest = "/" + "r" * 90  # 91 bytes + "/supervisor.sock" = 107
    assert load({"SYNC_RUNTIME_DIR": longest}).runtime_dir == Path(longest)
    with pytest.raises(ConfigError):
        load({"SYNC_RUNTIME_DIR": longest + "r"})


def test_check_volumes(tmp_path: Path) -> None:
    (tmp_path / "h").mkdir()
    (tmp_path / "a").mkdir()
    config.check_volumes(load({"HOST_VOLUME": str(tmp_path / "h"), "APP_VOLUME": str(tmp_path / "a")}))
    with pytest.raises(ConfigError) as e:
        config.check_volumes(load({"HOST_VOLUME": str(tmp_path / "nope"), "APP_VOLUME": str(tmp_path / "a")}))
    assert e.value.variable == "HOST_VOLUME"
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError) as e:
        config.check_volumes(load({"HOST_VOLUME": str(tmp_path / "h"), "APP_VOLUME": str(tmp_path / "file")}))
    assert e.value.variable == "APP_VOLUME"


@pytest.mark.parametrize(
    ("host", "app", "variable"),
    [
        ("/", "/app_sync", "HOST_VOLUME"),
        ("/host_sync", "/", "APP_VOLUME"),
        ("/w", "/w/app", "HOST_VOLUME"),
        ("/w/host/", "/w", "APP_VOLUME"),
        ("/w/x", "/w/x/../x/y", "HOST_VOLUME"),
        ("/same", "/same/", "APP_VOLUME"),
    ],
)
def test_roots_that_contain_each_other_are_refused(host: str, app: str, variable: str) -> None:
    """SPEC 5 Roots (issue 18: HOST_VOLUME=/ copied 40 levels of app_sync/app_sync/... first).
    The variable named is the root that holds the other (the equal one: APP_VOLUME)."""
    with pytest.raises(ConfigError) as e:
        load({"HOST_VOLUME": host, "APP_VOLUME": app})
    assert e.value.variable == variable
    assert "neither may contain the other" in str(e.value)
    assert host.rstrip("/") in str(e.value) and app.rstrip("/") in str(e.value)
    assert "\n" not in str(e.value)


def test_roots_that_differ_only_in_a_prefix_of_a_name_are_fine() -> None:
    load({"HOST_VOLUME": "/w/app", "APP_VOLUME": "/w/app_sync"})


def test_roots_nested_through_a_symlink_are_refused_before_the_start(tmp_path: Path) -> None:
    (tmp_path / "host").mkdir()
    os.symlink(tmp_path / "host", tmp_path / "alias")
    with pytest.raises(ConfigError) as e:
        config.check_volumes(
            load({"HOST_VOLUME": str(tmp_path / "host"), "APP_VOLUME": str(tmp_path / "alias")})
        )
    assert e.value.variable == "APP_VOLUME"


# --- SYNC_CONFIG -----------------------------------------------------------------------


def test_sync_config_flat_keys(tmp_path: Path) -> None:
    path = tmp_path / "sync.yml"
    path.write_text(
        "sync_excludes: ['.git', 'node_modules']\n"
        "sync_excludes_type: Path\n"
        "sync_prefer: dest\n"
        "sync_userid: 1000\n"
        "sync_groupid: 1001\n"
        "sync_args: '-numericids -ignore=\"Name *.o\"'\n"
        "monit_enable: false\n"
        "monit_interval: 2\n"
        "monit_high_cpu_cycles: 4\n"
    )
    cfg = load({"SYNC_CONFIG": str(path), "HOST_VOLUME": "/h", "APP_VOLUME": "/a"})
    assert cfg.excludes == ("Path .git", "Path node_modules")
    assert cfg.prefer_root == "/a"
    assert (cfg.owner_uid, cfg.group_id) == (1000, 1001)
    assert cfg.unison_args == ("-numericids", "-ignore=Name *.o")
    assert cfg.monit_enable is False
    assert cfg.monit_interval == 2
    assert cfg.monit_high_cpu_cycles == 4


def test_sync_config_default_exclude_type_is_name_and_args_may_be_a_list(tmp_path: Path) -> None:
    path = tmp_path / "sync.yml"
    path.write_text("sync_excludes: ['my dir']\nsync_args: ['-ignore', 'Name a b', '-times']\n")
    cfg = load({"SYNC_CONFIG": str(path)})
    assert cfg.excludes == ("Name my dir",)
    assert cfg.unison_args == ("-ignore", "Name a b", "-times")


def test_sync_config_docker_sync_yml_with_one_sync(tmp_path: Path) -> None:
    path = tmp_path / "docker-sync.yml"
    path.write_text(
        "version: '2'\n"
        "options:\n  verbose: true\n"
        "syncs:\n"
        "  appcode-native-osx-sync:\n"
        "    src: './app'\n"
        "    sync_strategy: native_osx\n"
        "    sync_userid: '33'\n"
        "    sync_excludes: ['.git']\n"
        "    monit_enable: true\n"
    )
    cfg = load({"SYNC_CONFIG": str(path), "MONIT_ENABLE": "false"})
    assert cfg.owner_uid == 33
    assert cfg.excludes == ("Name .git",)
    assert cfg.monit_enable is False  # the environment wins


def test_environment_wins_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sync.yml"
    path.write_text("sync_userid: 1000\nmonit_interval: 2\nsync_prefer: app\n")
    cfg = load({"SYNC_CONFIG": str(path), "OWNER_UID": "7", "UNISON_SYNC_PREFER": "newer"})
    assert cfg.owner_uid == 7
    assert cfg.prefer == "newer"
    assert cfg.monit_interval == 2


def test_bad_value_in_the_file_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "sync.yml"
    path.write_text("monit_interval: often\n")
    with pytest.raises(ConfigError) as e:
        load({"SYNC_CONFIG": str(path)})
    assert e.value.value == "often"
    assert e.value.variable == "MONIT_INTERVAL"


@pytest.mark.parametrize(
    "contents",
    [None, "key: [unclosed\n", "- a list\n- not a mapping\n", "syncs:\n  a: {}\n  b: {}\n"],
    ids=["missing", "bad-yaml", "not-a-mapping", "two-syncs"],
)
def test_unusable_sync_config(tmp_path: Path, contents: str | None) -> None:
    path = tmp_path / "sync.yml"
    if contents is not None:
        path.write_text(contents)
    with pytest.raises(ConfigError) as e:
        load({"SYNC_CONFIG": str(path)})
    assert e.value.variable == "SYNC_CONFIG"
    assert str(path) in str(e.value)


# --- at the edge: entrypoint.py run / precopy -----------------------------------------

BAD_VALUES = [
    ("MONIT_INTERVAL", "five"),
    ("SYNC_RESCAN_INTERVAL", "-1"),
    ("MONIT_HIGH_CPU_CYCLES", "0"),
    ("MONIT_CPU_THRESHOLD", "hot"),
    ("UNISON_WATCH_INTERVAL", "-0.1"),
    ("UNISON_WATCH_INTERVAL", "soon"),
    ("UNISON_ARCHIVE_JOURNAL", "later"),
    ("UNISON_SYNC_PREFER", "both"),
    ("UNISON_SYNC_PREFER", "/elsewhere"),
    ("OWNER_UID", "www-data"),
    ("GROUP_ID", "staff"),
    ("LOG_FORMAT", "xml"),
    ("MONIT_ENABLE", "maybe"),
    ("UNISON_EXCLUDES", "node_modules"),
    ("UNISON_EXCLUDES", "Path /abs"),
    ("MAX_INOTIFY_WATCHES", "-1"),
    ("SYNC_RUNTIME_DIR", "/tmp/" + "r" * 100),
    ("UNISON_ARGS", "-ignore='Name .git -batch"),
    ("UNISON_ARGS", "-ignore='Nope .git' -batch"),
    ("UNISON_ARGS", "-bogus"),  # issue 25: unison's dry run on empty folders names it
    ("UNISON_ARGS", "-numericids -prefer {tmp}/nowhere -batch"),
    ("UNISON_WATCH_ARGS", '-repeat "watch'),
    ("HOST_VOLUME", "{tmp}/missing-host"),
    ("APP_VOLUME", "{tmp}/missing-app"),
    ("SYNC_CONFIG", "{tmp}/missing.yml"),
    ("APP_VOLUME", "{tmp}/host/sub"),  # roots that contain each other (issue 18)
    ("HOST_VOLUME", "/"),
]


@pytest.mark.parametrize("command", ["run", "precopy"])
@pytest.mark.parametrize(("variable", "value"), BAD_VALUES, ids=[v for v, _ in BAD_VALUES])
def test_bad_variable_exits_2_with_one_line_and_touches_nothing(
    tmp_path: Path, command: str, variable: str, value: str
) -> None:
    host, app = tmp_path / "host", tmp_path / "app"
    host.mkdir()
    app.mkdir()
    (host / "file.txt").write_text("keep me")
    (host / "sub").mkdir()
    (host / "sub" / "x").write_text("x")
    runtime, unison = tmp_path / "rt", tmp_path / "unison"
    value = value.format(tmp=tmp_path)
    env = entrypoint_env(tmp_path, host, app, runtime, **{variable: value})
    before = snapshot(host)

    done = run_entrypoint(command, env, runtime)

    assert done.returncode == 2, done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert variable in lines[0]
    assert value in lines[0] or repr(value) in lines[0]
    assert "expected" in lines[0]
    assert snapshot(host) == before
    assert list(app.iterdir()) == []
    assert not runtime.exists()
    assert not unison.exists()
    assert not Path(value).exists() or variable != "SYNC_RUNTIME_DIR"


def test_a_flag_unison_does_not_know_is_named_before_anything_is_copied(tmp_path: Path) -> None:
    """Issue 25: exit 3 after the cold copy had filled the volume, with unison's usage text."""
    host, app = tmp_path / "host", tmp_path / "app"
    app.mkdir()
    for i in range(50):
        write_file = host / f"d{i % 5}" / f"f{i}.txt"
        write_file.parent.mkdir(parents=True, exist_ok=True)
        write_file.write_text(f"{i}\n")
    runtime = tmp_path / "rt"
    args = "-ignore='Name x' -prefer " + str(host) + " -numericids -bogus -auto -batch"
    env = entrypoint_env(tmp_path, host, app, runtime, UNISON_ARGS=args)
    done = run_entrypoint("run", env, runtime)
    assert done.returncode == 2, done.stderr
    (line,) = done.stderr.splitlines()
    assert "UNISON_ARGS" in line and "does not know the option -bogus" in line
    assert len(line) < 300
    assert list(app.iterdir()) == []
    assert not runtime.exists() and not (tmp_path / "unison").exists()
