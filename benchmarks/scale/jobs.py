"""Measured jobs of the scale benchmark: one search or one training in a fresh process.

``measured(fn, *args)`` runs ``fn`` in a new (spawned) Python process and returns its result
with the process's peak resident memory (``VmHWM`` from ``/proc/self/status``, else
``ru_maxrss``), so every number belongs to that job alone: no earlier job's tables or
allocator caches are counted. A job first loads the split arrays (``scale_data.load_arrays``)
and records its resident memory then (``rss_after_data_bytes``: interpreter, TensorFlow and
the data), so peak minus that is what the model, its optimizer and the input pipeline added.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import resource
from typing import Any, Callable, Dict, Optional

from benchmarks import methods as m
from benchmarks.scale import data as scale_data
from trainer_module.data.features import DatasetConfig
from trainer_module.spec.mes import ModelSpec


def _status_bytes(key: str) -> Optional[int]:
    """``key`` (``VmHWM``, ``VmRSS``) of this process in bytes; None off Linux."""
    try:
        with open("/proc/self/status", encoding="utf-8") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def peak_rss_bytes() -> int:
    """Peak resident memory of this process so far."""
    hwm = _status_bytes("VmHWM")
    return hwm if hwm is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def rss_bytes() -> int:
    """Resident memory of this process now (the peak where the current value is unknown)."""
    rss = _status_bytes("VmRSS")
    return rss if rss is not None else peak_rss_bytes()


def _call(fn: Callable[..., Dict], args) -> Dict:
    out = fn(*args)
    out["peak_rss_bytes"] = peak_rss_bytes()
    return out


def measured(fn: Callable[..., Dict], *args: Any) -> Dict:
    """``fn(*args)`` in a fresh process, with its ``peak_rss_bytes`` added."""
    ctx = multiprocessing.get_context("spawn")  # TensorFlow does not survive a fork
    with concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx) as pool:
        return pool.submit(_call, fn, args).result()


def _data(arrays_dir: str, dataset_json: str, vocab_sizes: Dict[str, int]):
    data = scale_data.load_arrays(arrays_dir, DatasetConfig.from_json(dataset_json), vocab_sizes)
    return data, rss_bytes()


def search_job(arrays_dir: str, dataset_json: str, vocab_sizes: Dict[str, int], budget: int,
               mode: str, seed: int, overrides: Dict) -> Dict:
    """One ``methods.nis_search``: the emitted spec (JSON), times and supernet examples/s."""
    data, base = _data(arrays_dir, dataset_json, vocab_sizes)
    run = m.nis_search(data, budget, mode, seed, **overrides)
    return {"spec": run.spec.to_json(), "search_s": run.search_s, "tail_s": run.tail_s,
            "steps": run.steps, "supernet_examples_per_s": run.supernet_examples_per_s,
            "controller_every": run.controller_every,
            "phases": phases(run.stamps, run.search_s, run.warmup_steps),
            "rss_after_data_bytes": base}


def phases(stamps: Dict[int, float], search_s: float, warmup: int) -> Dict[str, float]:
    """Where a search's wall time went, from the seconds since its start at which each
    compiled chunk of steps ended (``stamps``): start-up (building the supernet and
    controller, the input iterators, tracing the warm-up loop and its first chunk), the
    rest of the warm-up, the first search-phase chunk (tracing the search loop), the rest of
    the search phase, and the final selection. Empty when the warm-up's end is not a stamp."""
    steps = sorted(stamps)
    later = [k for k in steps if k > warmup]
    if warmup not in stamps or steps[0] >= warmup or len(later) < 2:
        return {}
    first, last = steps[0], steps[-1]
    return {"startup_s": stamps[first], "startup_steps": first,
            "warmup_s": stamps[warmup] - stamps[first], "warmup_steps": warmup - first,
            "search_first_s": stamps[later[0]] - stamps[warmup],
            "search_first_steps": later[0] - warmup,
            "search_s": stamps[last] - stamps[later[0]], "search_steps": last - later[0],
            "selection_s": search_s - stamps[last]}


def train_job(arrays_dir: str, dataset_json: str, vocab_sizes: Dict[str, int], spec_json: str,
              seed: int, train_kwargs: Dict) -> Dict:
    """One ``methods.train_eval`` of ``spec_json``: metrics, time, examples/s, parameters."""
    data, base = _data(arrays_dir, dataset_json, vocab_sizes)
    run = m.train_eval(data, ModelSpec.from_json(spec_json), seed, **train_kwargs)
    return {**run_record(run), "rss_after_data_bytes": base}


def run_record(run: m.RunResult) -> Dict:
    """The JSON-able facts of one trained model."""
    return {"auc": run.test["auc"], "val": run.val, "train_s": run.train_s, "steps": run.steps,
            "examples_per_s": run.examples_per_s, "best_epoch": run.best_epoch}
