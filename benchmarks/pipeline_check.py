"""``python -m benchmarks.pipeline_check``: ML-100K through the pipeline vs the benchmark.

Runs the whole TFX pipeline (LocalDagRunner, Beam DirectRunner) on the benchmark's own
ML-100K split (``benchmarks.data.movielens_frames`` writes it; pre-split input, so the
Trainers train on the benchmark's train split, validate on its eval split and the Evaluator
reads its test split) at one benchmark budget, with the SE baseline sized like the
benchmark's uniform grid pick. Then it prints the pipeline's test metric of both models
next to the benchmark's rows (``BENCHMARKS.json``): mean, seed spread, and whether the
pipeline's value lies within the seed range widened by one spread on each side.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
from typing import Dict, List

from benchmarks import data as bdata

GRID, NIS_ME = "Uniform SE grid", "NIS-ME"
METRICS = {"ranking": "auc", "retrieval": "recall_at_1"}


def bench_rows(bench_json: str, task: str, fraction: float) -> Dict[str, Dict]:
    """The grid and NIS-ME records of ``task`` at ``fraction`` in a benchmark run."""
    with open(bench_json, encoding="utf-8") as f:
        raw = json.load(f)
    rows = {r["method"]: r for r in raw["records"]
            if r["task"] == f"ml100k_{task}" and abs(r["fraction"] - fraction) < 1e-9}
    missing = [m for m in (GRID, NIS_ME) if m not in rows]
    if missing:
        raise SystemExit(f"pipeline_check: {bench_json} has no {missing} rows for "
                         f"ml100k_{task} at fraction {fraction:g}")
    return rows


def within(value: float, values: List[float]) -> bool:
    """``value`` inside [min - sd, max + sd] of the benchmark's per-seed values."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return min(values) - sd <= value <= max(values) + sd


def pipeline_config(task: str, budget: int, baseline_dim: int, output_dir: str,
                    write: bool = True):
    """A PipelineConfig on the benchmark's pre-split ML-100K data (written when missing)."""
    from pipelines import config as config_lib  # pylint: disable=import-outside-toplevel
    if write:
        bdata.movielens_frames(task)  # writes <data_cache>/bench/ml100k_<task>/{train,eval,test}
    data_dir = os.path.join(bdata.REPO_ROOT, "data_cache", "bench", f"ml100k_{task}")
    return config_lib.PipelineConfig(
        pipeline_name=f"ml100k-{task}-check", data_path=data_dir,
        input_splits={s: f"{s}/*" for s in bdata.SPLITS},
        schema_path=os.path.join(data_dir, "schema", "schema.pbtxt"),
        dataset_config_path=os.path.join(data_dir, "dataset_config.json"),
        task=task, mode="ME", budget=budget, baseline_dim=baseline_dim,
        output_dir=output_dir, enable_cache=False)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", choices=sorted(METRICS), default="ranking")
    p.add_argument("--fraction", type=float, default=0.08)
    p.add_argument("--bench", default="BENCHMARKS.json", help="the benchmark's raw records")
    p.add_argument("--output-dir", default="build/pipeline_check")
    p.add_argument("--reuse", action="store_true",
                   help="compare the latest finished run in --output-dir instead of a new run")
    args = p.parse_args(argv)
    rows = bench_rows(args.bench, args.task, args.fraction)
    budget, dim = int(rows[GRID]["budget"]), int(rows[GRID]["wall_note"].split("best d=")[1])
    from pipelines.runners import local as local_runner
    from pipelines.ops import results  # pylint: disable=import-outside-toplevel
    cfg = pipeline_config(args.task, budget, dim, args.output_dir, write=not args.reuse)
    run_id = None if args.reuse else local_runner.run(cfg)
    summary = results.summarize(results.connect(cfg.metadata_path), cfg.pipeline_name, run_id)
    key = METRICS[args.task]
    print(f"ML-100K {args.task}, budget {budget:,} floats ({args.fraction:g}), baseline d={dim}")
    print(f"{'model':<28}{'pipeline':>10}{'bench mean':>12}{'bench sd':>10}  within")
    for model, method in (("baseline", GRID), ("candidate", NIS_ME)):
        got = next((v for k, v in summary.metrics.get(model, {}).items()
                    if k.replace("@", "_at_").lower() == key), float("nan"))
        values = rows[method]["values"]
        sd = statistics.stdev(values) if len(values) > 1 else 0.0
        print(f"{method + ' (' + model + ')':<28}{got:>10.4f}{statistics.mean(values):>12.4f}"
              f"{sd:>10.4f}  {within(got, values)}")


if __name__ == "__main__":
    main()
