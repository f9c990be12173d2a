"""supervisord: its config in SYNC_RUNTIME_DIR, the process, and a thin XML-RPC client.

The config listens on a unix socket only (mode 0700, no TCP) and runs one
program: ``unison`` (watch mode, through :mod:`engine.supervise.unison_program`); the
watchdog is a thread of ``run`` (:mod:`monit.loop`).  ``supervisorctl -c
SYNC_RUNTIME_DIR/supervisord.conf`` works against it as it is.
:class:`SupervisorClient` and :class:`SupervisordProcess` say what ``run``
uses of the client and the process (tests pass fakes).
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import xmlrpc.client
from pathlib import Path
from typing import Any, Protocol, cast

from engine.config import Config
from engine.unison import transcript

CODE_DIR = Path(__file__).resolve().parent.parent
# How long supervisord waits for a program after SIGTERM before SIGKILL; both
# count in the stop sequence's budget (engine/supervise/stop.py STOP_BUDGET).
UNISON_STOPWAITSECS = 3

_PROGRAM = """
[program:{name}]
command={command}
directory={code_dir}
environment=PYTHONPATH="{code_dir}",PYTHONUNBUFFERED="1"
autostart={autostart}
autorestart=true
startsecs=0
startretries=20
stopsignal=TERM
stopwaitsecs={stopwaitsecs}
stopasgroup=true
killasgroup=true
redirect_stderr=true
{logfile}
"""
# unison's output goes to a bounded file that `run` follows and forwards (engine/unison/transcript.py).
_TO_FILE = "stdout_logfile={path}\nstdout_logfile_maxbytes={max_bytes}\nstdout_logfile_backups=1"


def render(cfg: Config) -> str:
    """The supervisord config for ``cfg``."""
    runtime = cfg.runtime_dir
    user = "user=root\n" if os.geteuid() == 0 else ""  # says we mean it (no warning)
    text = f"""; written by native-sync at start; edits are lost
[unix_http_server]
file={cfg.supervisor_socket}
chmod=0700

[supervisord]
nodaemon=true
silent=true
{user}logfile=/dev/null
logfile_maxbytes=0
pidfile={runtime}/supervisord.pid
childlogdir={runtime}
loglevel=warn

[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

[supervisorctl]
serverurl=unix://{cfg.supervisor_socket}
"""
    python = sys.executable
    text += _PROGRAM.format(
        name="unison",
        command=f"{python} -m engine.supervise.unison_program",
        code_dir=CODE_DIR,
        autostart="true",
        stopwaitsecs=UNISON_STOPWAITSECS,
        logfile=_TO_FILE.format(path=runtime / transcript.FILE, max_bytes=transcript.MAX_BYTES),
    )
    return text


def write(cfg: Config) -> Path:
    cfg.supervisord_conf.write_text(render(cfg), encoding="utf-8")
    return cfg.supervisord_conf


def spawn(cfg: Config) -> subprocess.Popen[bytes]:
    """Start supervisord in the foreground as our child."""
    return subprocess.Popen(
        [sys.executable, "-m", "supervisor.supervisord", "-n", "-c", str(cfg.supervisord_conf)],
        cwd=CODE_DIR,
        stdin=subprocess.DEVNULL,
        start_new_session=True,  # signals reach it only through us
    )


class Faults:
    """supervisord's fault codes that native-sync branches on (``supervisor/xmlrpc.py``)."""

    ALREADY_STARTED = 60
    NOT_RUNNING = 70


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over supervisord's unix socket."""

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self._path = str(path)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self._path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixTransport(xmlrpc.client.Transport):
    """XML-RPC over a unix socket, kept instead of ``supervisor.xmlrpc.SupervisorTransport``.

    supervisor's transport imports its HTTP server modules: measured with psutil
    on a running engine (1k files, idle, watchdog on; median of 3), ``run``
    (the only process that talks to supervisord) is 26.1 MB with this class and
    29.2 MB with supervisor's (3.1 MB, 12%), for 25 lines here.
    """

    def __init__(self, path: Path, timeout: float) -> None:
        super().__init__()
        self._path = path
        self._timeout = timeout

    def make_connection(self, host: Any) -> http.client.HTTPConnection:
        return _UnixConnection(self._path, self._timeout)


class SupervisorError(Exception):
    """supervisord could not be reached or refused a request."""


class Client:
    """The few supervisord calls native-sync needs, over its unix socket."""

    def __init__(self, socket: Path, timeout: float = 5.0) -> None:
        self._socket = socket
        self._timeout = timeout
        self._proxy = self._connect()

    def _connect(self) -> xmlrpc.client.ServerProxy:
        # The URL is a placeholder: the transport talks to the unix socket.
        return xmlrpc.client.ServerProxy(
            "http://localhost", transport=_UnixTransport(self._socket, self._timeout)
        )

    def _call(self, method: str, *args: object) -> Any:
        """One XML-RPC call; a Fault is the caller's to judge, anything else is SupervisorError."""
        try:
            return getattr(self._proxy.supervisor, method)(*args)
        except xmlrpc.client.Fault:
            raise
        except (OSError, http.client.HTTPException, xmlrpc.client.Error) as e:
            self._proxy = self._connect()  # the transport's connection is spent
            raise SupervisorError(f"{method}: supervisord not answering at {self._socket}: {e}") from e

    def info(self, name: str) -> dict[str, Any]:
        try:
            return cast(dict[str, Any], self._call("getProcessInfo", name))
        except xmlrpc.client.Fault as e:
            raise SupervisorError(f"getProcessInfo({name}): {e.faultString}") from e

    def stop(self, name: str) -> None:
        try:
            self._call("stopProcess", name, True)
        except xmlrpc.client.Fault as e:
            if e.faultCode != Faults.NOT_RUNNING:
                raise SupervisorError(f"stop {name}: {e.faultString}") from e

    def start(self, name: str) -> None:
        try:
            self._call("startProcess", name, True)
        except xmlrpc.client.Fault as e:
            if e.faultCode != Faults.ALREADY_STARTED:
                raise SupervisorError(f"start {name}: {e.faultString}") from e

    def restart(self, name: str) -> None:
        self.stop(name)
        self.start(name)


# --- what `run` needs of the above (engine/supervise/run.py), fakes in tests -----------------------


class SupervisorClient(Protocol):
    """What ``run`` asks of supervisord (:class:`Client`; a fake in tests)."""

    def info(self, name: str) -> dict[str, object]: ...

    def stop(self, name: str) -> None: ...


class SupervisordProcess(Protocol):
    """The supervisord process as ``run`` drives it (a ``subprocess.Popen``; a fake in tests)."""

    @property
    def pid(self) -> int: ...

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...

    def send_signal(self, signum: int) -> None: ...

    def wait(self, timeout: float | None = None) -> int: ...

    def kill(self) -> None: ...


def kill_session(sid: int) -> list[int]:
    """SIGKILL what is left in session ``sid`` (supervisord's, :func:`spawn`, once it is gone):
    a program it started while told to stop and could not stop in time, unison among them
    (a stop before supervisord answered; the orphan kept a watch-mode unison running).
    Returns their pids."""
    if sid <= 1:
        return []
    killed = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
            if int(stat[stat.rindex(b")") + 2 :].split()[3]) != sid:  # state ppid pgrp session
                continue
            os.kill(int(entry.name), signal.SIGKILL)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read
        killed.append(int(entry.name))
    return killed
