"""native-sync benchmarks: ``make bench`` (quick) or ``BENCH=full make bench``.

Modules: :mod:`bench.trees` (generated trees and edits), :mod:`bench.engines`
(native-sync, polling unison, a peer fsmonitor), :mod:`bench.metrics` (what is
measured and how), :mod:`bench.report` with :mod:`bench.tables`,
:mod:`bench.report_edits`, :mod:`bench.report_costs` and
:mod:`bench.report_scale` (results.json and docs/benchmarks.md),
:mod:`bench.run` (the plan and the command line) with :mod:`bench.provenance`;
sections of their own: :mod:`bench.saves`, :mod:`bench.churn`,
:mod:`bench.bigtrees`, :mod:`bench.verifier`, and :mod:`bench.scale` (issue 24:
:mod:`bench.scale_plan`, :mod:`bench.scale_measure`, :mod:`bench.archives`).
"""
