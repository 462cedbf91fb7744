"""``python -m benchmarks.scale [--quick] [--rows N] --output BENCHMARKS.md``: the Scale section.

One run on the streamed large data set (``benchmarks.scale.synthetic_stream``: 1M users, 300k
items, history bags, Zipf ids with latent factors) measures

1. data: generation rows/s, CsvExampleGen's executor on one shard, Transform's analysis over
   the train shards through ``CsvTFXIO`` (Arrow; Beam DirectRunner with ``--workers``
   processes) vs pandas ``value_counts`` of the same columns (``benchmarks.scale.data``);
2. the supernet step at 10k vs 1M rows per feature, lazy Adam vs Adam (``scale_step``);
3. at two tight budgets (1% and 5% of the full d=32 model's floats): the uniform SE grid
   (5 widths, every point with the first seed, the best retrained with the second), the
   power-law rule, NIS-SE and NIS-ME (one search each with the first seed, the MES retrained
   per seed), all with ``optimizer="lazy_adam"``; test AUC, wall time of search + retrain vs
   the whole grid, examples/s of supernet and final models;
4. peak resident memory of each search and of one trainer, each in its own process
   (``scale_jobs.measured``), next to ``memory_plan``'s estimate;
5. the in-process parameter-server cluster on a slice (``scale_ps``): the same short search
   on one process and on the cluster, and a retrain on the cluster.

Every final model trains ``passes`` passes over the train split, cut into ``epochs``
validated epochs (the pipeline Trainers' recipe picks the best); searches use the library's
step counts. The raw results go to ``report.results_json(output, "scale")``
(``benchmarks/results/scale.json`` for BENCHMARKS.md) and the section is rendered by
``benchmarks.scale.report``; ``<output>`` is re-rendered from the ``make bench`` records
(``report.results_json(output)``, when present) plus that file, so neither run erases the other.
``--quick`` is a smoke run on small vocabularies (numbers not representative).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from typing import Dict, List, Tuple

from benchmarks import methods as m
from benchmarks import report
from benchmarks import run as bench_run
from benchmarks.scale import data as scale_data, jobs as scale_jobs, ps as scale_ps, report as scale_report, step as scale_step
from benchmarks.scale import synthetic_stream as stream
from trainer_module.search.space import memory_plan
from trainer_module.defaults import DEFAULT_HIDDEN_UNITS
from trainer_module.search.search import SearchConfig, searched_space
from trainer_module.search.space import SearchSpace

OPTIMIZER = "lazy_adam"
FULL_ROWS = 3_000_000


@dataclasses.dataclass
class ScaleSettings:
    """What one scale run measures, and how long it trains."""

    rows: int = FULL_ROWS
    sizes: Dict = dataclasses.field(default_factory=lambda: dataclasses.asdict(stream.StreamSizes()))
    fractions: Tuple[float, ...] = (0.01, 0.05)
    seeds: Tuple[int, ...] = (0, 1)
    grid_dims: Tuple[int, ...] = m.GRID_DIMS
    passes: float = 1.0     # passes over the train split per final model
    epochs: int = 2         # validated epochs those passes are cut into
    search_overrides: Dict = dataclasses.field(default_factory=dict)
    step_rows: Tuple[int, int] = (10_000, 1_000_000)
    step_repeats: Dict = dataclasses.field(
        default_factory=lambda: {"lazy_adam": (10, 3), "adam": (1, 1)})  # (repeats, rounds)
    workers: int = 2
    ps_rows: int = 100_000  # train rows of the parameter-server slice
    quick: bool = False


QUICK = ScaleSettings(
    rows=20_000, sizes=dataclasses.asdict(stream.StreamSizes(
        num_users=5_000, num_items=2_000, num_categories=50, num_regions=20)),
    grid_dims=(1, 4, 16), passes=1.0, epochs=1,
    search_overrides={"warmup_steps": 20, "search_steps": 20, "final_candidates": 4,
                      "final_random_candidates": 4, "final_eval_batches": 2},
    step_rows=(1_000, 20_000), step_repeats={"lazy_adam": (2, 1), "adam": (2, 1)}, ps_rows=5_000,
    quick=True)


def train_kwargs(s: ScaleSettings, train_rows: int) -> Dict:
    """``methods.train_eval`` arguments: ``passes`` over the train split in ``epochs`` epochs."""
    steps = max(1, int(s.passes * train_rows / m.BATCH_SIZE / s.epochs))
    return {"max_epochs": s.epochs, "steps_per_epoch": steps, "optimizer": OPTIMIZER}


def parameter_server_numbers(s: ScaleSettings, data, info: Dict, arrays_dir: str) -> Dict:
    """The in-process parameter-server cluster on a slice (``scale_ps.ps_job``, own process):
    the same short search on one process and on the cluster, and a retrain on the cluster."""
    budget = int(s.fractions[0] * data.full_floats())
    rows = min(data.size("train"), s.ps_rows)
    try:
        return scale_jobs.measured(scale_ps.ps_job, arrays_dir, info["dataset"],
                                   data.vocab_sizes, budget, rows)
    except Exception as e:  # pylint: disable=broad-except  # the other sections still count
        return {"measured": False, "reason": f"the cluster job failed: {type(e).__name__}: {e}"}


def step_ratio(s: ScaleSettings) -> Dict:
    """Supernet step ms at ``step_rows`` rows per feature, per optimizer (its own process)."""
    out = scale_jobs.measured(_step_job, s.step_rows, s.step_repeats)
    out.pop("peak_rss_bytes")
    return {"small": s.step_rows[0], "large": s.step_rows[1], **out}


def _step_job(rows: Tuple[int, int], repeats: Dict) -> Dict:
    out = {}
    for name, (n, rounds) in repeats.items():
        out.update(scale_step.measure(rows[0], rows[1], [name], repeats=n, rounds=rounds))
    return out


def prepare(s: ScaleSettings, work_dir: str) -> Tuple[Dict, "scale_data.bdata.TaskData"]:
    """Generates, runs ExampleGen (one shard) and the Transform analysis, loads the arrays."""
    sizes = stream.StreamSizes(**s.sizes)
    dataset = stream.dataset_config(sizes)
    out_dir = os.path.join(work_dir, "stream")
    info: Dict = {"generate": scale_data.generate(out_dir, s.rows, sizes)}
    _log(f"generated {s.rows:,} rows at {info['generate']['rows_per_s']:,.0f} rows/s")
    shards = scale_data.split_shards(os.path.join(out_dir, "data"))
    info["example_gen"] = scale_data.example_gen(shards["eval"][0], os.path.join(work_dir, "eg"),
                                                 s.workers)
    _log(f"ExampleGen {info['example_gen']['rows_per_s']:,.0f} rows/s")
    tdir = os.path.join(work_dir, "transform")
    info["analyze"] = scale_data.analyze(shards["train"], dataset, tdir, s.workers)
    _log(f"Transform analysis {info['analyze']['rows_per_s']:,.0f} rows/s")
    data = scale_data.load(shards, dataset, tdir, os.path.join(work_dir, "arrays"), info)
    info.update(vocab_sizes=data.vocab_sizes, splits={k: data.size(k) for k in scale_data.bdata.SPLITS},
                full_floats=data.full_floats(), dataset=dataset.to_json())
    _log(f"arrays ready: vocabularies {data.vocab_sizes}")
    return info, data


def bench_budget(data, info: Dict, frac: float, s: ScaleSettings, arrays_dir: str,
                 measure_trainer: bool) -> Dict:
    """Every method at ``frac`` of the full floats; the NIS searches in measured processes."""
    budget = int(frac * data.full_floats())
    kw = train_kwargs(s, data.size("train"))
    rec = scale_jobs.run_record
    out: Dict = {"fraction": frac, "budget": budget, "methods": {}}
    start = time.perf_counter()
    specs = m.grid_specs(data.vocab_sizes, budget, s.grid_dims)
    first = [m.train_eval(data, spec, s.seeds[0], **kw) for spec in specs]
    grid_s = time.perf_counter() - start
    best = max(range(len(specs)), key=lambda i: first[i].val)
    runs = [rec(first[best])] + [rec(m.train_eval(data, specs[best], seed, **kw))
                                 for seed in s.seeds[1:]]
    out["grid_s"] = grid_s
    out["methods"]["Uniform SE grid"] = {
        "runs": runs, "wall_s": grid_s, "dim": specs[best].metadata["dim"],
        "points": [{"dim": sp.metadata["dim"], "val": r.val, "auc": r.test["auc"],
                    "train_s": r.train_s} for sp, r in zip(specs, first)]}
    _log(f"{frac:g}: grid done in {grid_s:.0f}s")
    pl = m.power_law_spec(data.vocab_sizes, budget)
    runs = [rec(m.train_eval(data, pl, seed, **kw)) for seed in s.seeds]
    out["methods"]["Power-law MD"] = {"runs": runs, "wall_s": _mean([r["train_s"] for r in runs])}
    args = (arrays_dir, info["dataset"], data.vocab_sizes)
    for mode in ("SE", "ME"):
        search = scale_jobs.measured(scale_jobs.search_job, *args, budget, mode, s.seeds[0],
                                     {"optimizer": OPTIMIZER, **s.search_overrides})
        space = searched_space(SearchSpace.from_vocab_sizes(data.vocab_sizes, budget, mode=mode),
                               SearchConfig(**s.search_overrides))
        search["memory_plan"] = memory_plan.plan(space, DEFAULT_HIDDEN_UNITS)
        spec = m.ModelSpec.from_json(search["spec"])
        runs = []
        for seed in s.seeds:
            if measure_trainer and mode == "ME" and seed == s.seeds[0]:
                job = scale_jobs.measured(scale_jobs.train_job, *args, search["spec"], seed, kw)
                job["memory_plan_final_model_bytes"] = search["memory_plan"]["final_model_bytes"]
                job["model_with_slots_bytes"] = _model_bytes(spec)
                out["trainer_memory"] = job
                runs.append(_run_part(job))
            else:
                runs.append(rec(m.train_eval(data, spec, seed, **kw)))
        retrain_s = _mean([r["train_s"] for r in runs])
        # The overhead target's denominator: the final model trained (wall, one validated
        # epoch) on as many examples as the search's main model saw.
        search["same_examples_train_s"] = m.train_eval(
            data, spec, s.seeds[0], max_epochs=1, steps_per_epoch=search["steps"],
            optimizer=OPTIMIZER).train_s
        out["methods"][f"NIS-{mode}"] = {
            "runs": runs, "wall_s": search["search_s"] + retrain_s, "search": search,
            "mes": {n: [list(e) for e in f.entries] for n, f in spec.features.items()}}
        _log(f"{frac:g}: NIS-{mode} search {search['search_s']:.0f}s, retrains done")
    return out


def _run_part(job: Dict) -> Dict:
    keys = ("auc", "val", "train_s", "steps", "examples_per_s", "best_epoch")
    return {k: job[k] for k in keys}


def _model_bytes(spec) -> int:
    """Bytes of ``spec``'s embedding parameters with lazy Adam's two slots (tower excluded)."""
    return (1 + memory_plan.SLOTS_PER_PARAMETER) * memory_plan.BYTES_PER_FLOAT * spec.cost()


def _mean(values: List[float]) -> float:
    return sum(values) / len(values) if values else float("nan")


def _log(text: str) -> None:
    print(f"[scale] {time.strftime('%H:%M:%S')} {text}", flush=True)


def rerender(output: str) -> str:
    """Writes ``output`` from the ``make bench`` records (if any) and the scale records."""
    bench_json = report.results_json(output)
    if os.path.exists(bench_json):
        bench_run.render(bench_json, argparse.Namespace(output=output, plot=None), plot=False)
        return output
    with open(report.results_json(output, "scale"), encoding="utf-8") as f:
        raw = json.load(f)
    shown = os.path.relpath(bench_json, os.path.dirname(os.path.abspath(output)))
    text = "\n".join(["# NIS benchmark: scale", "",
                      f"(No `{shown}` of `make bench` beside this file: "
                      "only the Scale section.)", ""] + scale_report.section(raw))
    with open(output, "w", encoding="utf-8") as f:
        f.write(text + "\n")
    return output


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run on small vocabularies")
    p.add_argument("--rows", type=int, default=None, help="rows generated (default: the mode's)")
    p.add_argument("--output", default="BENCHMARKS.md")
    p.add_argument("--work-dir", default=None, help="data and Transform outputs (default: temp)")
    p.add_argument("--render-only", action="store_true",
                   help="re-render --output from the saved JSON files; measures nothing")
    args = p.parse_args(argv)
    if args.render_only:
        print(f"[scale] wrote {rerender(args.output)}")
        return
    s = QUICK if args.quick else ScaleSettings()
    if args.rows:
        s = dataclasses.replace(s, rows=args.rows)
    scale_json = report.results_json(args.output, "scale")
    for path in (args.output, scale_json):
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    start = time.perf_counter()
    raw: Dict = {"machine": bench_run.machine_info(), "settings": dataclasses.asdict(s),
                 "quick": s.quick, "optimizer": OPTIMIZER}
    with tempfile.TemporaryDirectory(prefix="nis_scale_") as tmp:
        work_dir = args.work_dir or tmp
        raw["step_ratio"] = step_ratio(s)
        _log(f"step ratio {raw['step_ratio']}")
        raw["data"], data = prepare(s, work_dir)
        arrays_dir = os.path.join(work_dir, "arrays")
        raw["budgets"] = [bench_budget(data, raw["data"], frac, s, arrays_dir,
                                       measure_trainer=frac == s.fractions[-1])
                          for frac in s.fractions]
        raw["parameter_server"] = parameter_server_numbers(s, data, raw["data"], arrays_dir)
        _log(f"parameter-server cluster: {raw['parameter_server'].get('measured')}")
    raw["total_s"] = time.perf_counter() - start
    with open(scale_json, "w", encoding="utf-8") as f:
        json.dump(raw, f, indent=1, default=str)
    rerender(args.output)
    print(f"[scale] wrote {scale_json} and {args.output} in {raw['total_s'] / 60:.1f} min",
          flush=True)


if __name__ == "__main__":
    main()
