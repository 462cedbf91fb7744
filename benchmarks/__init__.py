"""Benchmark harnesses of NIS: what ``make bench`` and ``make bench-scale`` run.

``make bench`` (``python -m benchmarks.run [--quick] --output BENCHMARKS.md``): ``data``
(ML-100K / synthetic -> real TF Transform -> in-memory arrays), ``methods`` (uniform-SE
grid, per-feature hand tuning, power-law mixed dims, NIS-SE, NIS-ME), ``report`` (markdown
tables, PNG plot, where the raw records go), ``document`` (BENCHMARKS.md text) and ``run``
(the CLI).

``make bench-scale`` (``python -m benchmarks.scale``): ``synthetic_stream`` (million-id
ranking data streamed to sharded CSV), ``scale_data`` (ExampleGen / Transform over it),
``scale_step`` (supernet step time at 10k vs 1M rows; also ``python -m
benchmarks.scale.step``), ``scale_jobs`` and ``scale_ps`` (searches and trainings measured in
their own processes, the parameter-server cluster), ``scale_report`` (the Scale section) and
``scale`` (the CLI).

``make bench-diagnose`` (``python -m benchmarks.diagnose``): supernet ranking fidelity,
reward noise and controller learning over several search seeds.

Raw records: ``benchmarks/results/`` (``bench.json``, ``scale.json``, ``diagnostics.json``);
``notes.md`` holds the short hand-written "what this shows" of each BENCHMARKS.md section.
"""
import os

import trainer_module  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
