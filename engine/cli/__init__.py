"""Short-lived commands a person runs against a running engine (``flush``).

``status`` reads :mod:`engine.status` and ``health`` asks :mod:`engine.health` (the ground).
"""
