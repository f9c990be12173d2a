#!/usr/bin/env python3
"""native-sync's command line (PID 1 in the image).

    native-sync [run]   initial sync, then watch until SIGTERM (default)
    native-sync precopy the initial sync alone (docker-sync's precopy_appsync)
    native-sync status  one JSON object (SPEC section 5)
    native-sync health  exit 0 only when watching and healthy
    native-sync flush   sync now and wait until it is done

A bad setting prints one line naming it and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from engine import config as config_mod

BAD_CONFIG = 2


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="native-sync", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "command", nargs="?", default="run", choices=("run", "precopy", "status", "health", "flush")
    )
    parser.add_argument("--timeout", type=float, default=30.0, help="flush: seconds to wait")
    parser.add_argument(
        "--version",
        action="version",
        version=tomllib.loads(Path(__file__).with_name("pyproject.toml").read_text())["project"]["version"],
    )
    args = parser.parse_args(argv)
    try:
        cfg = config_mod.load()
        if args.command in ("run", "precopy"):
            config_mod.check_volumes(cfg)
    except config_mod.ConfigError as e:
        print(f"native-sync: {e}", file=sys.stderr)
        return BAD_CONFIG
    if args.command in ("run", "precopy"):
        from engine import log as log_mod
        from engine import run

        log_mod.setup(cfg.log_format, cfg.tz)
        return run.Runner(cfg).run() if args.command == "run" else run.precopy(cfg)
    # status, health and flush stay light: a HEALTHCHECK runs them every few seconds.
    from engine import status

    report = status.collect(cfg.runtime_dir)
    if args.command == "status":
        print(json.dumps(report, indent=2))
        return 0
    if args.command == "health":
        return 0 if status.healthy(report) else 1
    from engine import flush

    return flush.flush(cfg, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
