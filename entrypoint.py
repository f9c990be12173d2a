#!/usr/bin/env python3
"""native-sync's command line (PID 1 in the image).

    native-sync [run]       initial sync, then watch until SIGTERM (default)
    native-sync precopy     the initial sync alone (docker-sync's precopy_appsync)
    native-sync status      what the sync is doing, for a person (--json: for a machine)
    native-sync monitor     the same view, live, until Ctrl-C (= status --watch)
    native-sync conflicts   the conflicts and their kept copies; `conflicts keep host|app PATH`
    native-sync flush       sync now and wait until it is done (4: timed out, 6: not running)
    native-sync health      exit 0 only when watching and healthy (the HEALTHCHECK)
    native-sync help        this list, with examples

A bad setting prints one line naming it and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path
from typing import NoReturn

from engine import exits, health, program, status

COMMANDS = {
    "run": "initial sync, then keep both folders in sync until stopped (default)",
    "precopy": "the initial sync alone, then exit (docker-sync's precopy_appsync)",
    "status": "what the sync does: state, last sync, problems, conflicts (--json)",
    "monitor": "the status view, live, until Ctrl-C (same as status --watch)",
    "conflicts": "the conflicts and their kept copies; keep host|app PATH settles one",
    "flush": "sync both ways now and wait until it is done",
    "health": "exit 0 when watching and healthy, else 1 (for HEALTHCHECKs)",
    "help": "these commands and examples; help COMMAND for one",
}
EXAMPLES = """\
examples (in the image: docker exec CONTAINER native-sync ...):
  native-sync status                       read what the sync is doing
  native-sync status --json                the same, one JSON object (stable keys, for scripts)
  native-sync monitor                      watch it live; Ctrl-C to leave
  native-sync conflicts                    what conflicted, where the losing version is
  native-sync conflicts keep app src/a.py  make the app's version of src/a.py stand
  native-sync flush --timeout 60           sync now, wait up to a minute
  LOG_LEVEL=debug native-sync run          also log unison's raw output

docs: README.md and docs/using-the-image.md"""


def _version() -> str:
    """The image's release version (its build wrote VERSION beside this file), else pyproject.toml's."""
    here = Path(__file__)
    try:
        return here.with_name("VERSION").read_text().strip()
    except FileNotFoundError:
        return str(tomllib.loads(here.with_name("pyproject.toml").read_text())["project"]["version"])


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """One line per command."""

    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=20, width=100)
        self._action_max_length = 16  # "    conflicts" and its help on one line


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        """A wrong word: what was wrong and where the list is (exit 2)."""
        self.exit(exits.BAD_CONFIG, f"native-sync: {message}\n`native-sync help` lists the commands.\n")


def parser() -> argparse.ArgumentParser:
    top = _Parser(
        prog="native-sync",
        description="Two-way sync of a host folder (HOST_VOLUME) and a volume (APP_VOLUME).",
        epilog=EXAMPLES,
        formatter_class=_Formatter,
    )
    top.add_argument("--version", action="version", version=_version())
    sub = top.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    parsers = {name: sub.add_parser(name, help=text, description=text) for name, text in COMMANDS.items()}
    parsers["status"].add_argument("--json", action="store_true", help="one JSON object (SPEC section 5)")
    parsers["status"].add_argument("--watch", action="store_true", help="refresh until Ctrl-C")
    for name in ("status", "monitor"):
        parsers[name].add_argument(
            "--interval", type=float, default=1.0, metavar="SECONDS", help="--watch/monitor: refresh every"
        )
    parsers["flush"].add_argument(
        "--timeout", type=float, default=30.0, metavar="SECONDS", help="seconds to wait (default 30)"
    )
    conflicts = parsers["conflicts"]
    conflicts.add_argument("--json", action="store_true", help="the list as JSON")
    conflicts.add_argument(
        "action", nargs="?", choices=("list", "keep"), default="list", help="list (default) or keep"
    )
    conflicts.add_argument("side", nargs="?", choices=("host", "app"), help="keep: whose version stands")
    conflicts.add_argument("path", nargs="?", help="keep: the original path, as listed")
    parsers["help"].add_argument("topic", nargs="?", choices=tuple(COMMANDS), help="a command")
    return top


def main(argv: list[str] | None = None) -> int:
    top = parser()
    args = top.parse_args(argv)
    command = args.command or "run"
    if command == "help":
        if args.topic:
            top.parse_args([args.topic, "--help"])  # prints it and exits 0
        top.print_help()
        return exits.OK
    # Each command imports what it uses (measured in a fresh interpreter on a loaded machine):
    # the start-up and supervision wings cost the short commands 6 MB and 0.1-0.3 s, and the
    # view and conflicts commands would stay 0.9 MB in `run`, which lives as long as the container.
    if command in ("run", "precopy"):
        cfg = program.start("native-sync", volumes=True)  # a bad setting: one line, exit 2
        if command == "precopy":
            from engine.startup.initial_sync import precopy

            return precopy(cfg)
        from engine.supervise.run import Runner

        return Runner(cfg).run()
    cfg = program.load_config()
    if command == "health":
        return exits.OK if health.is_healthy(cfg.runtime_dir) else exits.FAILED
    if command == "status" and args.json:
        print(json.dumps(status.collect(cfg.runtime_dir, cfg.unison_dir).json(), indent=2))
        return exits.OK
    if command in ("status", "monitor"):
        from engine.cli import monitor

        live = command == "monitor" or args.watch
        return monitor.run(cfg, live=live, interval=args.interval)
    if command == "conflicts":
        from engine.cli import conflicts as conflicts_cli

        if args.action == "keep":
            if not (args.side and args.path):
                print(
                    "native-sync: `conflicts keep` needs a side and a path: native-sync conflicts keep "
                    "host|app PATH (`native-sync conflicts` lists the paths)",
                    file=sys.stderr,
                )
                return exits.BAD_CONFIG
            return conflicts_cli.keep(cfg, args.side, args.path)
        return conflicts_cli.list_(cfg, args.json)
    from engine.cli import flush

    return flush.flush(cfg, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
