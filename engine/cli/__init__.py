"""Short-lived commands a person runs against a running engine (``flush``).

``status`` and ``health`` read :mod:`engine.health` (the ground).
"""
