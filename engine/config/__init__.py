"""The one place that reads the environment: every setting as a frozen Config.

Every variable goes through a small converter (:mod:`.converters`) that raises ``ValueError`` with
what it accepts; :func:`load` turns that into :class:`ConfigError`, which names
the variable, the value and the accepted form, so the edge can print one line
and exit with status 2.
"""

from __future__ import annotations

import functools
import os
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from engine.config import roots
from engine.config.converters import (
    archive_journal,
    boolean,
    excludes,
    ignore_pattern,
    log_format,
    log_level,
    non_negative_number,
    numeric_id,
    positive_int,
    positive_number,
    prefer,
    runtime_folder,
    verify_interval,
    watch_interval,
    words,
)

T = TypeVar("T")


if TYPE_CHECKING:
    from engine.config.ignore import IgnoreMatcher


class ConfigError(Exception):
    """A variable has a value native-sync cannot use."""

    def __init__(self, variable: str, value: object, accepted: str) -> None:
        self.variable = variable
        self.value = value
        self.accepted = accepted
        super().__init__(f"{variable}={value!r} is not valid: expected {accepted}")


# --- the config ----------------------------------------------------------------


# Variables earlier versions read and this one does not: set, each is named in
# one warning at start (never an error: an old compose file keeps working).
RETIRED = {
    "SYNC_HOT_DELAY": "the hot-path hold is gone: our unison no longer sleeps 1 s after a sync",
}

# UNISON_WATCH_INTERVAL's default: watch-mode unison's pause after every sync
# (our unison patch 0001; stock unison sleeps 1 s).  It blocks on the fsmonitor
# meanwhile, so a short pause costs nothing at idle (unison/README.md).
WATCH_INTERVAL = 0.02
# UNISON_ARCHIVE_JOURNAL's default: watch-mode syncs go to a journal (our patch
# 0004), and the whole archives are written only after a full scan (the
# periodic rescan), when the journal passes a quarter of the archive, and at
# the stop; never after some quiet seconds (0).  A quiet time made every edit
# made after a pause cost a whole-archive write a little later (issue 24: 57 MB
# and ~1.5 s of CPU at 400k files); a crash loses nothing either way (the
# journal is replayed).
ARCHIVE_JOURNAL: float | None = 0.0


@dataclass(frozen=True)
class Config:
    """Everything native-sync reads from its environment, converted and checked."""

    host_volume: Path
    app_volume: Path
    unison_src: Path
    unison_dest: Path
    unison_args: tuple[str, ...]
    unison_watch_args: tuple[str, ...]
    excludes: tuple[str, ...]
    ignores: tuple[str, ...]  # what unison ignores: UNISON_EXCLUDES and UNISON_ARGS' -ignore words
    prefer: str
    owner_uid: int
    group_id: int
    max_inotify_watches: int | None
    monit_enable: bool
    monit_interval: float
    monit_high_cpu_cycles: int
    monit_cpu_threshold: float
    monit_stall_seconds: float
    rescan_interval: float
    rescan_paced: bool  # SYNC_RESCAN_INTERVAL unset: a dear rescan waits longer (engine/fsmonitor/rescan.py)
    verify_interval: float | None  # SYNC_VERIFY_INTERVAL: None is auto, 0 is off

    watch_interval: float  # UNISON_WATCH_INTERVAL: seconds watch-mode unison pauses after a sync
    archive_journal: (
        float | None
    )  # UNISON_ARCHIVE_JOURNAL: quiet seconds before a full archive write; None: off
    runtime_dir: Path
    unison_dir: Path
    unison_bin: str
    log_format: str
    tz: str | None
    in_image: bool = False  # NATIVE_SYNC_IMAGE=1 (the Dockerfile sets it): the roots should be mounts
    retired: tuple[str, ...] = ()  # variables set that native-sync no longer reads (RETIRED)
    log_level: str = "info"  # LOG_LEVEL: debug adds unison's raw output and every verifier pass
    trusted_since: float | None = None  # NATIVE_SYNC_TRUSTED_SINCE: the unison program -> its fsmonitor

    @property
    def owner(self) -> tuple[int, int]:
        """(OWNER_UID, GROUP_ID): the owner of everything in APP_VOLUME."""
        return (self.owner_uid, self.group_id)

    @functools.cached_property
    def ignore(self) -> IgnoreMatcher:
        """unison's ignores as a matcher, built once (the fsmonitor, the copy, litter removal)."""
        from engine.config.ignore import IgnoreMatcher

        return IgnoreMatcher(self.ignores)

    @property
    def roots(self) -> tuple[Path, Path]:
        """The two unison roots: host side first."""
        return (self.unison_src, self.unison_dest)

    @property
    def prefer_root(self) -> str:
        """The value of unison's ``-prefer``: a root path or ``newer``."""
        if self.prefer == "host":
            return str(self.unison_src)
        if self.prefer == "app":
            return str(self.unison_dest)
        return self.prefer

    @property
    def supervisord_conf(self) -> Path:
        return self.runtime_dir / "supervisord.conf"

    @property
    def supervisor_socket(self) -> Path:
        return self.runtime_dir / "supervisor.sock"


def _sync_config(path: str) -> dict[str, Any]:
    """docker-sync sync keys from a YAML file (flat, or one entry under ``syncs``)."""
    import yaml  # only when SYNC_CONFIG is set: every process reads a Config, and yaml is 1.2 MB of RSS

    try:
        with open(path, encoding="utf-8") as f:
            data = yaml.safe_load(f) or {}
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"a readable YAML file with docker-sync sync keys ({e})") from e
    if isinstance(data, dict) and isinstance(data.get("syncs"), dict):
        syncs = data["syncs"]
        if len(syncs) != 1:
            raise ValueError("a docker-sync.yml with exactly one entry under 'syncs'")
        data = next(iter(syncs.values())) or {}
    if not isinstance(data, dict):
        raise ValueError("a YAML mapping of docker-sync sync keys")
    return data


def _file_values(data: dict[str, Any]) -> dict[str, str]:
    """Translate docker-sync keys into the environment variables they stand for."""
    values: dict[str, str] = {}
    simple = {
        "sync_userid": "OWNER_UID",
        "sync_groupid": "GROUP_ID",
        "monit_enable": "MONIT_ENABLE",
        "monit_interval": "MONIT_INTERVAL",
        "monit_high_cpu_cycles": "MONIT_HIGH_CPU_CYCLES",
        "sync_prefer": "UNISON_SYNC_PREFER",
    }
    for key, variable in simple.items():
        if data.get(key) is not None:
            value = data[key]
            values[variable] = str(value).lower() if isinstance(value, bool) else str(value)
    if data.get("sync_args") is not None:
        args = data["sync_args"]
        values["UNISON_ARGS"] = args if isinstance(args, str) else shlex.join(map(str, args))
    if data.get("sync_excludes"):
        kind = str(data.get("sync_excludes_type") or "Name")
        values["UNISON_EXCLUDES"] = "\n".join(f"{kind} {x}" for x in data["sync_excludes"])
    return values


def load(environ: Mapping[str, str] | None = None) -> Config:
    """Build the Config from ``environ`` (default: the process environment).

    Raises :class:`ConfigError` for the first bad value.
    """
    # An empty variable counts as unset (compose passes `OWNER_UID=` for a blank .env entry).
    env = {k: v for k, v in (os.environ if environ is None else environ).items() if v != ""}
    if env.get("SYNC_CONFIG"):
        file_values = _convert(env, "SYNC_CONFIG", _sync_config, None)
        assert file_values is not None
        env = {**_file_values(file_values), **env}

    def get(name: str, convert: Callable[[str], T], default: T) -> T:
        return _convert(env, name, convert, default)

    host = Path(get("HOST_VOLUME", str, "/host_sync"))
    app = Path(get("APP_VOLUME", str, "/app_sync"))
    src = Path(get("UNISON_SRC", str, str(host)))
    dest = Path(get("UNISON_DEST", str, str(app)))
    _distinct_roots(src, dest, roots.by_name(src, dest, lambda p: Path(os.path.normpath(p))))
    no_words: tuple[str, ...] = ()
    args = get("UNISON_ARGS", words, no_words)
    excluded = get("UNISON_EXCLUDES", excludes, no_words)
    return Config(
        host_volume=host,
        app_volume=app,
        unison_src=src,
        unison_dest=dest,
        unison_args=args,
        unison_watch_args=get("UNISON_WATCH_ARGS", words, ("-repeat", "watch")),
        excludes=excluded,
        ignores=_ignores(env, excluded, args),
        prefer=_prefer_side(env, get("UNISON_SYNC_PREFER", prefer, "host"), src, dest),
        owner_uid=get("OWNER_UID", numeric_id, 0),
        group_id=get("GROUP_ID", numeric_id, 0),
        max_inotify_watches=get("MAX_INOTIFY_WATCHES", positive_int, None),
        monit_enable=get("MONIT_ENABLE", boolean, True),
        monit_interval=get("MONIT_INTERVAL", positive_number, 5.0),
        monit_high_cpu_cycles=get("MONIT_HIGH_CPU_CYCLES", positive_int, 2),
        monit_cpu_threshold=get("MONIT_CPU_THRESHOLD", positive_number, 50.0),
        monit_stall_seconds=get("MONIT_STALL_SECONDS", positive_number, 60.0),
        rescan_interval=get("SYNC_RESCAN_INTERVAL", non_negative_number, 300.0),
        rescan_paced="SYNC_RESCAN_INTERVAL" not in env,
        verify_interval=get("SYNC_VERIFY_INTERVAL", verify_interval, None),
        watch_interval=get("UNISON_WATCH_INTERVAL", watch_interval, WATCH_INTERVAL),
        archive_journal=get("UNISON_ARCHIVE_JOURNAL", archive_journal, ARCHIVE_JOURNAL),
        runtime_dir=Path(get("SYNC_RUNTIME_DIR", runtime_folder, "/run/native-sync")),
        unison_dir=Path(get("UNISON", str, "/unison")),
        unison_bin=get("UNISON_BIN", str, "unison"),
        log_format=get("LOG_FORMAT", log_format, "console"),
        log_level=get("LOG_LEVEL", log_level, "info"),
        tz=env.get("TZ") or None,
        in_image=get("NATIVE_SYNC_IMAGE", boolean, False),
        retired=tuple(name for name in RETIRED if env.get(name)),
        trusted_since=get("NATIVE_SYNC_TRUSTED_SINCE", non_negative_number, None),
    )


def _prefer_side(env: Mapping[str, str], prefer: str, src: Path, dest: Path) -> str:
    """A root path becomes ``host`` or ``app``: unison's ``-prefer`` takes nothing
    but one of its two roots, spelled exactly as they are given to it."""
    if not prefer.startswith("/"):
        return prefer
    if Path(prefer) == src:
        return "host"
    if Path(prefer) == dest:
        return "app"
    raise ConfigError("UNISON_SYNC_PREFER", env["UNISON_SYNC_PREFER"], f"host, app, newer, {src} or {dest}")


# Always ignored (engine/unison/conflicts.py): unison's conflict copies, which stay on
# the losing side until ``run`` moves them into the store, and the store itself.
CONFLICT_STORE = ".native-sync"
BUILTIN_IGNORES = (
    "Name {*,.*} (conflict_on_*)*",
    "Name {*,.*} (conflict #*_on_*)*",
    f"Path {CONFLICT_STORE}",
)


def _ignores(env: Mapping[str, str], excluded: tuple[str, ...], args: tuple[str, ...]) -> tuple[str, ...]:
    """Every ignore pattern unison gets, each checked as UNISON_EXCLUDES' are.

    With an ``-ignorenot`` nobody but unison can tell what is ignored: then
    nothing is (the fsmonitor reports a little too much, never too little).
    """
    patterns = list(excluded)
    ignorenot = False
    it = iter(args)
    for word in it:
        if word.startswith("-ignorenot"):
            ignorenot = True
            if word == "-ignorenot":
                next(it, None)
        elif word.startswith("-ignore=") or word == "-ignore":
            value = word.split("=", 1)[1] if "=" in word else next(it, "")
            try:
                patterns.append(ignore_pattern(value))
            except ValueError as e:
                raise ConfigError("UNISON_ARGS", env.get("UNISON_ARGS", ""), str(e)) from e
    return () if ignorenot else (*patterns, *BUILTIN_IGNORES)


def _convert(env: Mapping[str, str], name: str, convert: Callable[[str], T], default: T) -> T:
    raw = env.get(name)
    if raw is None or (raw.strip() == "" and name != "UNISON_ARGS"):
        return default
    try:
        return convert(raw)
    except ValueError as e:
        raise ConfigError(name, raw, str(e)) from e


def _distinct_roots(src: Path, dest: Path, clash: roots.Clash | None) -> None:
    """Neither root may be, or contain, the other (SPEC 5 Roots, :mod:`engine.config.roots`): one line
    naming both variables and folders.  The root named first is the one that holds the other."""
    if clash is None:
        return
    named = {"HOST_VOLUME": src, "APP_VOLUME": dest}
    other = "APP_VOLUME" if clash.holder == "HOST_VOLUME" else "HOST_VOLUME"
    how = f" ({clash.how})" if clash.how else ""
    raise ConfigError(
        clash.holder,
        str(named[clash.holder]),
        f"a folder apart from {other}={str(named[other])!r}{how}: the two roots must be distinct "
        "and neither may contain the other",
    )


def check_volumes(config: Config) -> None:
    """Both roots must be existing folders, apart by identity (device and inode); raises ConfigError."""
    for name, path in (("HOST_VOLUME", config.unison_src), ("APP_VOLUME", config.unison_dest)):
        if not path.is_dir():
            raise ConfigError(name, str(path), "an existing folder (is the volume mounted?)")
    src, dest = config.unison_src, config.unison_dest
    _distinct_roots(src, dest, roots.by_identity(src, dest))
