"""native-sync's sync engine: config, unison, the fsmonitor, supervisord."""
