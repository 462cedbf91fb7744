"""Benchmark harness for NIS (issue 4): ``python -m benchmarks.run [--quick] --output BENCHMARKS.md``.

Modules: ``data`` (ML-100K / synthetic -> real TF Transform -> in-memory arrays),
``methods`` (uniform-SE grid, power-law mixed dims, NIS-SE, NIS-ME),
``report`` (markdown tables + PNG plot) and ``run`` (the CLI).
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
