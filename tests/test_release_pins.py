"""The published image that the examples and the docs tell users to pin is
pyproject.toml's version: one release bumps them together (docs/using-the-image.md,
Cutting a release), so a copied example pulls the release it was written for."""

from __future__ import annotations

import re
import tomllib

from tests.helpers import REPO

PUBLISHED = re.compile(r"ghcr\.io/native-sync/native-sync:([0-9A-Za-z.-]*[0-9A-Za-z])")
FILES = ("README.md", "docs/using-the-image.md", "examples/compose.yml", "examples/docker-sync.yml")


def test_pinned_tags_are_the_version() -> None:
    version = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    pins = {(name, tag) for name in FILES for tag in PUBLISHED.findall((REPO / name).read_text())}
    assert {name for name, _ in pins} == set(FILES), "each file shows the published image"
    assert {(name, tag) for name, tag in pins if tag != version} == set()
