"""``python -m engine.fsmonitor``: what ``unison-fsmonitor`` runs."""

import sys

from engine.fsmonitor.monitor import main

sys.exit(main())
