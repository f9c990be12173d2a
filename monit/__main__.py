"""``python -m monit``: the watchdog loop alone (``run`` runs it as a thread)."""

import sys

from monit.loop import main

sys.exit(main())
