"""Benchmark harness for NIS (issue 4): ``python -m benchmarks.run [--quick] --output BENCHMARKS.md``.

Modules: ``data`` (ML-100K / synthetic -> real TF Transform -> in-memory arrays),
``methods`` (uniform-SE grid, power-law mixed dims, NIS-SE, NIS-ME),
``report`` (markdown tables + PNG plot), ``document`` (BENCHMARKS.md text) and ``run``
(the CLI); diagnostics: ``step_profile`` (time per search step) and ``supernet_scores``
(a saved run's MESs scored on one search's trained supernet).
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
