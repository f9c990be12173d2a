#!/usr/bin/env python3
"""native-sync's command line (PID 1 in the image).

    native-sync [run]   initial sync, then watch until SIGTERM (default)
    native-sync precopy the initial sync alone (docker-sync's precopy_appsync)
    native-sync status  one JSON object (state, syncs, problems, conflicts, verifier)
    native-sync health  exit 0 only when watching and healthy
    native-sync flush   sync now and wait until it is done (4: timed out, 6: not running)

A bad setting prints one line naming it and exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import sys
import tomllib
from pathlib import Path

from engine import exits, program


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
    if args.command in ("run", "precopy"):
        cfg = program.start("native-sync", volumes=True)  # a bad setting: one line, exit 2
        if args.command == "precopy":
            from engine.startup.initial_sync import precopy

            return precopy(cfg)
        from engine.supervise.run import Runner

        return Runner(cfg).run()
    cfg = program.load_config()
    # status, health and flush stay light: a HEALTHCHECK runs them every few seconds.
    from engine import health

    if args.command == "status":
        print(json.dumps(health.collect(cfg.runtime_dir), indent=2))
        return exits.OK
    if args.command == "health":
        return exits.OK if health.is_healthy(cfg.runtime_dir) else exits.FAILED
    from engine.cli import flush

    return flush.flush(cfg, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
