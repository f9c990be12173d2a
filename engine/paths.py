"""Replica-relative paths and the entries they name: the helpers every wing shares."""

from __future__ import annotations


def join(prefix: str, path: str) -> str:
    """Join two replica-relative paths ('' is the root)."""
    if not prefix:
        return path
    if not path:
        return prefix
    return f"{prefix}/{path}"
