"""native-sync's sync engine: config, unison, the fsmonitor, supervisord."""

from engine import lean

lean.defer()  # before anything imports structlog: see engine/lean.py
