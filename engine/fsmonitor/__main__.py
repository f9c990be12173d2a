"""``python -m engine.fsmonitor``: what ``unison-fsmonitor`` runs."""

import sys

from engine.fsmonitor.main import main

sys.exit(main())
