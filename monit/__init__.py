"""The watchdog: restarts unison on sustained high CPU or a stalled sync."""
