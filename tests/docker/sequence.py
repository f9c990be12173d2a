"""docker-sync 1.0.5's native_osx strategy, command for command, against the image.

docker-sync runs (lib/docker-sync/sync_strategy/native_osx.rb):

    docker run --rm -v VOL:/app_sync -v SRC:/host_sync -e HOST_VOLUME=/host_sync \
      -e APP_VOLUME=/app_sync -e TZ=... -e UNISON_SRC=... -e UNISON_ARGS="..." ... \
      --name NAME IMAGE /usr/local/bin/precopy_appsync
    docker run -d ...the same... --name NAME IMAGE
    docker exec NAME supervisorctl restart unison
    docker stop NAME && docker wait NAME
    docker start NAME && docker exec NAME supervisorctl restart unison

The steps below share one host folder, volume and container, in that order;
a step skips when an earlier one it needs failed.  One sequence for every image
it runs against: test_docker_sync (the image under test), test_docker_sync_arm64
(the arm64 image under qemu) and test_release (the released image, pulled).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.docker.conftest import NAME_PREFIX, Docker

OWNER_UID = 33  # www-data in Debian: the uid must be used as a number, never looked up
# What docker-sync 1.0.5 puts in UNISON_ARGS for `sync_excludes: ['.git']` with no
# sync_args (hence the leading space); the shell strips the outer double quotes.
UNISON_ARGS = " -ignore='Name .git' -prefer /host_sync -numericids -auto -batch"
N_FILES = 300
SYNC_TIMEOUT = 30.0  # seconds for one change to cross; real syncs take well under 2 s


@dataclass
class Scenario:
    docker: Docker
    host: Path
    volume: str
    name: str
    files: dict[str, str]
    wait_for: Callable[..., Any]
    done: set[str] = field(default_factory=set)

    def require(self, *steps: str) -> None:
        missing = [s for s in steps if s not in self.done]
        if missing:
            pytest.skip(f"needs the earlier step(s) {missing}")

    def run_args(self) -> list[str]:
        """docker-sync's mounts and environment (plus --network none)."""
        env = {
            "HOST_VOLUME": "/host_sync",
            "APP_VOLUME": "/app_sync",
            "TZ": "Europe/Berlin",
            "UNISON_SRC": "/host_sync",
            "UNISON_DEST": "/app_sync",
            "UNISON_ARGS": UNISON_ARGS,
            "UNISON_WATCH_ARGS": "-repeat watch",
            "OWNER_UID": str(OWNER_UID),
            "MONIT_ENABLE": "true",
            "MONIT_INTERVAL": "5",
            "MONIT_HIGH_CPU_CYCLES": "2",
        }
        args = ["--network", "none", "-v", f"{self.volume}:/app_sync", "-v", f"{self.host}:/host_sync"]
        for key, value in env.items():
            args += ["-e", f"{key}={value}"]
        return [*args, "--name", self.name]

    def app_file(self, rel: str) -> str | None:
        """The content of /app_sync/rel in the running container, None if absent."""
        out = self.docker("exec", self.name, "cat", f"/app_sync/{rel}", check=False)
        return out.stdout if out.returncode == 0 else None

    def app_write(self, rel: str, text: str) -> None:
        """Write /app_sync/rel as the app container would: as the numeric OWNER_UID."""
        script = 'printf %s "$1" > "/app_sync/$2"'
        self.docker("exec", "-u", f"{OWNER_UID}:{OWNER_UID}", self.name, "sh", "-c", script, "sh", text, rel)

    def app_exists(self, rel: str) -> bool:
        return self.docker("exec", self.name, "test", "-e", f"/app_sync/{rel}", check=False).returncode == 0

    def host_file(self, rel: str) -> str | None:
        try:
            return (self.host / rel).read_text()
        except FileNotFoundError:
            return None


def make_host_folder(root: Path) -> dict[str, str]:
    """300 files in 10 folders, and .git folders that must not be synced."""
    files = {}
    for i in range(N_FILES):
        rel = f"src/mod{i % 10}/file{i:03}.txt"
        files[rel] = f"content of file {i}\n" * (1 + i % 7)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    for git in (root / ".git", root / "src" / "mod3" / ".git"):
        (git / "objects" / "ab").mkdir(parents=True)
        (git / "HEAD").write_text("ref: refs/heads/main\n")
        (git / "objects" / "ab" / "cdef01").write_bytes(b"\x78\x9c blob")
    # On a Mac the host mount presents the folder as writable to the container's
    # OWNER_UID; on Linux a bind mount keeps the real owner (root here), so hand
    # the folder to uid 33 as the Mac would appear to.
    for path in [root, *root.rglob("*")]:
        os.chown(path, OWNER_UID, OWNER_UID)
    return files


class DockerSyncSequence:
    """The steps, in their order; a module runs them on its own image by subclassing this
    as ``Test...`` beside its ``module_docker`` fixture (conftest's: the image under test).
    pytest runs a base class's tests before the subclass's own, in the order written here."""

    @pytest.fixture(scope="class")
    @classmethod
    def scenario(
        cls, module_docker: Docker, poll: Callable[..., Any], tmp_path_factory: pytest.TempPathFactory
    ) -> Iterator[Scenario]:
        """One host folder, volume and container for the class's steps, on its module's ``module_docker``."""
        host = tmp_path_factory.mktemp("docker-sync-host")
        files = make_host_folder(host)
        yield Scenario(
            docker=module_docker,
            host=host,
            volume=module_docker.volume(f"{NAME_PREFIX}-app-sync"),
            name=module_docker.container(f"{NAME_PREFIX}-sync"),
            files=files,
            wait_for=poll,
        )

    def test_precopy_fills_app_volume(self, scenario: Scenario) -> None:
        d = scenario.docker
        start = time.monotonic()
        d("run", "--rm", *scenario.run_args(), d.image, "/usr/local/bin/precopy_appsync", timeout=180)
        print(f"precopy of {N_FILES} files: {time.monotonic() - start:.1f} s")

        listing = d.on_volume(scenario.volume, "cd /app_sync && find . -mindepth 1 -printf '%U %y %P\\n'")
        entries = [line.split(" ", 2) for line in listing.splitlines()]
        synced_files = {path for _, kind, path in entries if kind == "f"}
        assert synced_files == set(scenario.files), "the app volume should hold exactly the host's files"
        assert not [p for _, _, p in entries if ".git" in p.split("/")], "no .git may be synced"
        wrong_owner = [(uid, p) for uid, _, p in entries if uid != str(OWNER_UID)]
        assert not wrong_owner, f"everything in /app_sync should belong to uid {OWNER_UID}: {wrong_owner[:5]}"
        sample = "src/mod7/file137.txt"
        assert d.on_volume(scenario.volume, f"cat /app_sync/{sample}") == scenario.files[sample]
        scenario.done.add("precopy")

    def test_daemon_turns_healthy(self, scenario: Scenario) -> None:
        scenario.require("precopy")
        d = scenario.docker
        d("run", "-d", *scenario.run_args(), d.image)
        seconds = d.wait_healthy(scenario.name)
        print(f"daemon healthy after {seconds:.1f} s")
        scenario.done.add("daemon")

    def test_host_edit_reaches_app(self, scenario: Scenario) -> None:
        scenario.require("daemon")
        changed = scenario.host / "src/mod1/file001.txt"
        changed.write_text("edited on the host\n")
        added = scenario.host / "src/new-on-host/added.txt"
        added.parent.mkdir()
        added.write_text("added on the host\n")
        removed = "src/mod2/file002.txt"
        (scenario.host / removed).unlink()
        start = time.monotonic()

        scenario.wait_for(
            lambda: scenario.app_file("src/mod1/file001.txt") == "edited on the host\n",
            SYNC_TIMEOUT,
            "the host edit in /app_sync",
        )
        print(f"host -> app: {time.monotonic() - start:.2f} s")
        scenario.wait_for(
            lambda: scenario.app_file("src/new-on-host/added.txt") == "added on the host\n",
            SYNC_TIMEOUT,
            "the new host file in /app_sync",
        )
        scenario.wait_for(
            lambda: not scenario.app_exists(removed), SYNC_TIMEOUT, "the host deletion in /app_sync"
        )

    def test_app_edit_reaches_host(self, scenario: Scenario) -> None:
        scenario.require("daemon")
        start = time.monotonic()
        scenario.app_write("src/mod4/from-app.txt", "written by the app\n")

        scenario.wait_for(
            lambda: scenario.host_file("src/mod4/from-app.txt") == "written by the app\n",
            SYNC_TIMEOUT,
            "the app's file on the host",
        )
        print(f"app -> host: {time.monotonic() - start:.2f} s")
        # unison (root) writes it; within a sync cycle it is the host folder's owner's (33 here).
        scenario.wait_for(
            lambda: (scenario.host / "src/mod4/from-app.txt").stat().st_uid == OWNER_UID,
            SYNC_TIMEOUT,
            "the app's file owned by the host folder's owner",
        )

    def test_supervisorctl_restart_unison(self, scenario: Scenario) -> None:
        scenario.require("daemon")
        d = scenario.docker
        out = d("exec", scenario.name, "supervisorctl", "restart", "unison", timeout=60)
        assert "unison" in out.stdout

        (scenario.host / "src/mod5/after-restart.txt").write_text("after the restart\n")
        scenario.wait_for(
            lambda: scenario.app_file("src/mod5/after-restart.txt") == "after the restart\n",
            SYNC_TIMEOUT,
            "a host edit after the restart",
        )
        scenario.app_write("src/mod5/after-restart-app.txt", "back\n")
        scenario.wait_for(
            lambda: scenario.host_file("src/mod5/after-restart-app.txt") == "back\n",
            SYNC_TIMEOUT,
            "an app edit after the restart",
        )

    def test_status_json_prints_json(self, scenario: Scenario) -> None:
        scenario.require("daemon")
        out = scenario.docker("exec", scenario.name, "native-sync", "status", "--json")
        status = json.loads(out.stdout)
        assert status["state"] == "watching"
        assert status["initial_sync_done"] is True
        for key in ("last_sync_at", "pending_changes", "unison", "conflicts", "rescans"):
            assert key in status, f"status lacks {key!r}: {status}"
        assert "pid" in status["unison"] and "restarts" in status["unison"], status

    def test_write_right_before_stop_reaches_host(self, scenario: Scenario) -> None:
        scenario.require("daemon")
        d = scenario.docker
        scenario.app_write("last-words.txt", "last words\n")
        start = time.monotonic()
        d("stop", scenario.name, timeout=60)
        stopped_after = time.monotonic() - start
        print(f"docker stop took {stopped_after:.1f} s")
        assert d("wait", scenario.name).stdout.strip() == "0", d("logs", "--tail", "40", scenario.name).stderr
        assert stopped_after < 10, "SIGTERM should flush and exit before docker's 10 s SIGKILL"
        assert scenario.host_file("last-words.txt") == "last words\n"
        scenario.done.add("stopped")

    def test_start_again_then_restart_unison(self, scenario: Scenario) -> None:
        """`docker-sync start` on a stopped sync container: `docker start NAME && docker
        exec NAME supervisorctl restart unison`, the exec racing supervisord's start."""
        scenario.require("stopped")
        d = scenario.docker
        d("start", scenario.name)
        d("exec", scenario.name, "supervisorctl", "restart", "unison", timeout=90)
        d.wait_healthy(scenario.name)
        (scenario.host / "after-start.txt").write_text("warm restart\n")
        scenario.wait_for(
            lambda: scenario.app_file("after-start.txt") == "warm restart\n",
            SYNC_TIMEOUT,
            "a host edit after docker start",
        )

    def test_sequence_ran(self, scenario: Scenario) -> None:
        """After the sequence: its steps that others depend on passed (a skipped step would hide it)."""
        wanted = {"precopy", "daemon", "stopped"}
        assert wanted <= scenario.done, f"steps done with {scenario.docker.image}: {sorted(scenario.done)}"
