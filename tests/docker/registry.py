"""A container registry on loopback for the release test: Debian's `docker-registry`
(the CNCF distribution registry, 2.8) on 127.0.0.1 and a free port, with its own
config and storage in a temporary folder, and the few reads of its HTTP API
that the test checks a release with. dockerd speaks plain HTTP to 127.0.0.0/8
without any configuration (`docker info`: Insecure Registries)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.helpers import wait_for

MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


class RegistryMissing(RuntimeError):
    """No `docker-registry` executable (Debian's docker-registry package)."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Registry:
    """A running registry: `host` is 127.0.0.1:PORT; `stop()` ends it."""

    host: str
    process: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def start(cls, folder: Path, timeout: float = 60) -> Registry:
        exe = shutil.which("docker-registry")
        if exe is None:
            raise RegistryMissing("no docker-registry (apt-get install docker-registry; scripts/ci-setup.sh)")
        host = f"127.0.0.1:{free_port()}"
        config = folder / "config.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {folder / 'storage'}}}, delete: {{enabled: true}}}}\n"
            f"http: {{addr: '{host}'}}\n"
        )
        log = folder / "registry.log"
        with log.open("wb") as out:
            command = [exe, "serve", str(config)]
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
        registry = cls(host, process, log)

        def answers() -> bool:
            if process.poll() is not None:
                raise RuntimeError(f"docker-registry exited {process.returncode}:\n{log.read_text()}")
            try:
                return registry.get("/v2/")[0] == 200
            except (urllib.error.URLError, ConnectionError):
                return False

        wait_for(answers, timeout, f"the registry on {host}", 0.1, detail=log.read_text)
        return registry

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)

    def get(self, path: str, accept: str = "application/json") -> tuple[int, dict[str, str], bytes]:
        """GET http://host/path: (status, headers, body); 404 and other errors are returned."""
        request = urllib.request.Request(f"http://{self.host}{path}", headers={"Accept": accept})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def tags(self, name: str) -> list[str]:
        status, _, body = self.get(f"/v2/{name}/tags/list")
        return sorted(json.loads(body).get("tags") or []) if status == 200 else []

    def manifest(self, name: str, reference: str) -> tuple[str, dict[str, Any]]:
        """The manifest `reference` (a tag or digest) as stored: (its digest, its JSON)."""
        accept = ", ".join((MANIFEST_LIST, OCI_INDEX, MANIFEST, OCI_MANIFEST))
        status, headers, body = self.get(f"/v2/{name}/manifests/{reference}", accept)
        if status != 200:
            raise LookupError(f"{name}:{reference}: HTTP {status} {body[:200]!r}")
        return headers["Docker-Content-Digest"], json.loads(body)

    def platforms(self, name: str, tag: str) -> dict[str, dict[str, Any]]:
        """A manifest list's entries by platform ("linux/arm64"): each per-arch manifest."""
        _, index = self.manifest(name, tag)
        assert index["mediaType"] in (MANIFEST_LIST, OCI_INDEX), f"{name}:{tag} is no manifest list: {index}"
        found = {}
        for entry in index["manifests"]:
            platform = f"{entry['platform']['os']}/{entry['platform']['architecture']}"
            found[platform] = self.manifest(name, entry["digest"])[1]
        return found
