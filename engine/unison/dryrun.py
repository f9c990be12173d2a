"""UNISON_ARGS checked before anything is copied: our unison, dry, on two empty folders.

unison reads its arguments only when it runs; a word it does not know
(``-bogus``) used to stop the start after the cold copy had filled the volume,
with unison's whole usage text.  :func:`check_args` runs the one-shot command
the engine would run (the same flags, the same ignores, the same ``-prefer``)
on two empty temporary folders with a temporary archive folder, and turns
unison's complaint into one line that names the word.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from engine.config import Config
from engine.unison.launch import once_command, one_shot_environment

TIMEOUT = 5.0  # two empty folders take ~20 ms; with a -repeat in UNISON_ARGS it would never end

_UNKNOWN = re.compile(r"unknown option [`'\"]?(-[^'`\"\s]+)")
_ERROR = re.compile(r"^(?:Fatal e|E)rror:?\s*(.*)$")


class BadArgs(Exception):
    """unison refuses UNISON_ARGS; the message says why, in one line."""


def check_args(cfg: Config) -> None:
    """Raise :class:`BadArgs` when unison refuses ``cfg.unison_args``.

    Nothing is written outside a temporary folder.  When the dry run cannot
    be made (no temporary folder, no unison), nothing is said here: the start
    reports that itself.
    """
    if not cfg.unison_args:
        return
    try:
        scratch = Path(tempfile.mkdtemp(prefix="native-sync-args-"))
    except OSError:
        return
    try:
        (scratch / "host").mkdir()
        (scratch / "app").mkdir()
        (scratch / "unison").mkdir()
        (scratch / "runtime").mkdir()
        dry = _dry_config(cfg, scratch)
        done = subprocess.run(
            once_command(dry),
            env=one_shot_environment(dry),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if done.returncode >= 2:
        said = done.stderr.decode("utf-8", "replace")
        for real, stand_in in ((cfg.unison_src, dry.unison_src), (cfg.unison_dest, dry.unison_dest)):
            said = said.replace(str(stand_in), str(real))  # unison names the roots it was given
        raise BadArgs(refusal(said, done.returncode))


def _dry_config(cfg: Config, scratch: Path) -> Config:
    """``cfg`` on the scratch folders: a root named in UNISON_ARGS (``-prefer /host_sync``) follows."""
    host, app = str(scratch / "host"), str(scratch / "app")
    swap = {str(cfg.unison_src): host, str(cfg.unison_dest): app}

    def moved(word: str) -> str:
        if word in swap:
            return swap[word]
        name, eq, value = word.partition("=")
        return f"{name}={swap[value]}" if eq and value in swap else word

    return dataclasses.replace(
        cfg,
        unison_src=Path(host),
        unison_dest=Path(app),
        unison_args=tuple(moved(word) for word in cfg.unison_args),
        unison_dir=scratch / "unison",
        runtime_dir=scratch / "runtime",
    )


def refusal(stderr: str, status: int) -> str:
    """unison's complaint, in one line: the unknown word, or its ``Error:`` lines."""
    unknown = _UNKNOWN.search(stderr)
    if unknown:
        option = unknown.group(1)
        return f"arguments unison accepts: it does not know the option {option} (unison -help lists them)"
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for i, line in enumerate(lines):
        found = _ERROR.match(line)
        if found:
            said = " ".join([found.group(1), *lines[i + 1 : i + 3]])
            return f"arguments unison accepts: it says {' '.join(said.split())[:300]}"
    return f"arguments unison accepts: it exits {status} with {' '.join(' '.join(lines[-2:]).split())[:300]}"
