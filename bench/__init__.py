"""native-sync benchmarks: ``make bench`` (quick) or ``BENCH=full make bench``.

Modules: :mod:`bench.trees` (generated trees and edits), :mod:`bench.engines`
(native-sync, polling unison, a peer fsmonitor), :mod:`bench.metrics` (what is
measured and how), :mod:`bench.report` (results.json and docs/benchmarks.md),
:mod:`bench.run` (the plan and the command line).
"""
