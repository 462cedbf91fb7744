"""``python -m benchmarks.run [--quick] --output BENCHMARKS.md``: the NIS benchmark (issue 4).

For every task (ML-100K ranking, ML-100K retrieval, synthetic ranking) and budget
(a fraction of the full-vocabulary d=32 model's embedding floats) it runs the
four methods of ``benchmarks.methods``, evaluates on the test split over several
seeds, measures throughput / search overhead / Transform time, and writes the
markdown report, a PNG plot and the raw records (``report.results_json``:
``benchmarks/results/bench.json`` for BENCHMARKS.md, else ``<output stem>.json``).

Seeds: every grid point is trained with the first seed and the spec with the best
validation metric is retrained with the other seeds (``grid_select="first_seed"``;
"all_seeds" trains every point per seed and picks the best mean); the power-law model
and each NIS retrain are trained once per seed; each NIS mode searches once per
(task, budget) with the first seed and its MES is retrained per seed. ``--jobs N``
runs the tasks in N processes (tasks are independent).
``--quick`` is a smoke run (one seed, one budget, short searches, small data)
whose numbers are not representative.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import dataclasses
import json
import multiprocessing
import os
import platform
import tempfile
import time
from typing import Dict, List, Tuple

from benchmarks import data as bdata
from benchmarks import methods as m
from benchmarks import document, report
from trainer_module.model import training

FULL_FRACTIONS = (0.02, 0.08, 0.25)   # 8% = 4x the tightest budget (target 1b)


@dataclasses.dataclass
class Settings:
    seeds: Tuple[int, ...] = (0, 1, 2)
    # One search per seed for every NIS row; search i's MES is retrained with seeds[i % n], so
    # a row's spread is the search-to-search spread (what a user's seed decides).
    search_seeds: Tuple[int, ...] = (0, 1, 2)
    fractions: Tuple[float, ...] = FULL_FRACTIONS
    tasks: Tuple[str, ...] = ("ml100k_ranking", "ml100k_retrieval", "synthetic_ranking")
    synthetic_examples: int = 60_000
    grid_dims: Tuple[int, ...] = m.GRID_DIMS
    max_epochs: int = m.MAX_EPOCHS
    patience: int = training.DEFAULT_PATIENCE
    search_overrides: Dict = dataclasses.field(default_factory=dict)
    ablation_tasks: Tuple[str, ...] = ("ml100k_ranking", "ml100k_retrieval")
    random_order_row: bool = False  # --random-order: NIS-ME with decision_order="random" too
    grid_select: str = "first_seed"  # or "all_seeds" (every grid point trained per seed)
    jobs: int = 1  # tasks run in this many processes
    quick: bool = False

    @property
    def screen_epochs(self) -> int:
        """Epochs of the per-feature tuning's screening runs (never more than a full run's)."""
        return min(m.SCREEN_EPOCHS, self.max_epochs)


QUICK = Settings(seeds=(0,), search_seeds=(0,), fractions=(0.08,), tasks=("ml100k_ranking", "synthetic_ranking"),
                 synthetic_examples=15_000, grid_dims=(1, 4, 16), max_epochs=1,
                 search_overrides={"warmup_steps": 40, "search_steps": 60}, ablation_tasks=(),
                 random_order_row=False, quick=True)


def machine_info() -> Dict[str, str]:
    """nproc, CPU model, RAM and load average (read at start)."""
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), cpu)
        with open("/proc/meminfo", encoding="utf-8") as f:
            mem_kb = int(next(ln.split()[1] for ln in f if ln.startswith("MemTotal")))
    except (OSError, StopIteration, ValueError):
        mem_kb = 0
    import tensorflow as tf
    return {"nproc": str(os.cpu_count()), "cpu": cpu, "ram": f"{mem_kb / 2 ** 20:.1f} GiB",
            "load_average_at_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
            "accelerator": "none (CPU only)", "python": platform.python_version(),
            "tensorflow": tf.__version__}


def load_task(name: str, settings: Settings, work_dir: str) -> bdata.TaskData:
    if name.startswith("ml100k_"):
        frames, dataset = bdata.movielens_frames(name.split("_", 1)[1])
    else:
        frames, dataset = bdata.synthetic_frames(name.split("_", 1)[1], settings.synthetic_examples)
    return bdata.transform(name, frames, dataset, work_dir)


def _metrics(runs: List[m.RunResult], task: str) -> Tuple[str, List[float], Dict[str, List[float]]]:
    key = "auc" if task == "ranking" else "recall_at_1"
    extra = {k: [r.test[k] for r in runs] for k in runs[0].test if k != key}
    return key, [r.test[key] for r in runs], extra


def _record(data, budget, frac, method, runs, wall_s, note, mes) -> Dict:
    key, values, extra = _metrics(runs, data.task)
    return {"task": data.name, "budget": budget, "fraction": frac, "method": method, "metric": key,
            "values": values, "extra": extra, "wall_s": wall_s, "wall_note": note, "mes": mes,
            "val": [r.val for r in runs], "examples_per_s": [r.examples_per_s for r in runs],
            "train_s": [r.train_s for r in runs], "steps": [r.steps for r in runs],
            "cost": runs[0].spec.cost(), "accounting": runs[0].spec.accounting,
            "table_floats": runs[0].spec.table_floats(),
            "projection_floats": runs[0].spec.projection_floats()}


def _mes(spec) -> Dict:
    return {n: [list(e) for e in f.entries] for n, f in spec.features.items()}


def bench_budget(data: bdata.TaskData, frac: float, s: Settings, perf: Dict) -> List[Dict]:
    """All four methods at one budget; fills ``perf`` with throughput facts."""
    budget = int(frac * data.full_floats())
    train = lambda spec: [m.train_eval(data, spec, seed, s.max_epochs, patience=s.patience)  # noqa
                          for seed in s.seeds]
    n = len(s.seeds)
    best_spec, best_runs, grid_s, grid_note = _grid(data, budget, s, train)
    out = [_record(data, budget, frac, "Uniform SE grid", best_runs, grid_s,
                   f"{grid_note}; best d={best_spec.metadata['dim']}", _mes(best_spec))]
    tuned, tune_runs, tune_s = m.per_feature_se(data, budget, best_spec, s.seeds[0],
                                                s.screen_epochs)
    tuned_runs, retrain_s = best_runs, 0.0  # no move kept: the grid's runs stand
    if tuned is not best_spec:
        tuned_runs = train(tuned)
        retrain_s = sum(r.train_s for r in tuned_runs) / n
    out.append(_record(data, budget, frac, report.PER_FEATURE, tuned_runs,
                       grid_s + tune_s + retrain_s,
                       f"grid + {tune_runs} screening runs + retrain", _mes(tuned)))
    pl_spec = m.power_law_spec(data.vocab_sizes, budget)
    pl_runs = train(pl_spec)
    out.append(_record(data, budget, frac, "Power-law MD", pl_runs,
                       sum(r.train_s for r in pl_runs) / n, "1 run", _mes(pl_spec)))
    middle = frac == s.fractions[len(s.fractions) // 2]
    variants = [("SE", None, {}, "NIS-SE"), ("ME", None, {}, "NIS-ME")]
    if s.random_order_row:
        variants.append(("ME", None, {"decision_order": "random"}, report.RANDOM_ORDER))
    if middle and data.name in s.ablation_tasks:
        variants.append(("ME", m.PAPER_SPACE, m.PAPER_SEARCH, report.ABLATION))
    specs = {}
    for mode, space_options, options, label in variants:
        seeds = s.search_seeds if label in ("NIS-SE", "NIS-ME") else s.search_seeds[:1]
        searches, runs = [], []
        for i, seed in enumerate(seeds):
            searches.append(m.nis_search(data, budget, mode, seed, space_options,
                                         **{**options, **s.search_overrides}))
            runs.append(m.train_eval(data, searches[-1].spec, s.seeds[i % n], s.max_epochs,
                                     patience=s.patience))
        if len(seeds) == 1:  # one search: its MES retrained with every recipe seed
            runs = train(searches[0].spec)
        search = searches[0]
        specs[label] = search.spec
        search_s = sum(x.search_s for x in searches) / len(searches)
        retrain_s = sum(r.train_s for r in runs) / len(runs)
        picked = search.spec.metadata.get("final_selection", {}).get("chosen_from")
        rec = _record(data, budget, frac, label, runs, search_s + retrain_s,
                      f"search {search_s:.0f} + retrain {retrain_s:.0f}"
                      + (f"; {len(seeds)} searches" if len(seeds) > 1 else "")
                      + (f"; {picked} pick" if picked else ""), _mes(search.spec))
        rec.update(search_s=search_s, search_tail_s=search.tail_s, search_steps=search.steps,
                   supernet_examples_per_s=search.supernet_examples_per_s,
                   history=search.history[-3:], grid_s=grid_s,
                   search_seeds=list(seeds), spread="search" if len(seeds) > 1 else "retrain")
        out.append(rec)
    if middle:
        me = next(r for r in out if r["method"] == "NIS-ME")
        me_eps = _mean(me["examples_per_s"])
        same_steps_s = me["search_steps"] * m.BATCH_SIZE / me_eps
        same_widths = m.train_eval(data, m.same_widths_se_spec(specs["NIS-ME"]), s.seeds[0],
                                   max_epochs=1)
        perf.update(budget=budget, se_examples_per_s=_mean([r.examples_per_s for r in best_runs]),
                    same_widths_se_examples_per_s=same_widths.examples_per_s,
                    me_examples_per_s=me_eps, supernet_examples_per_s=me["supernet_examples_per_s"],
                    search_s=me["search_s"], final_same_steps_s=same_steps_s,
                    search_overhead=me["search_s"] / same_steps_s)
    return out


def _grid(data: bdata.TaskData, budget: int, s: Settings, train):
    """The grid's best spec, its runs per seed, the grid's wall seconds for one seed, a note.

    "first_seed": every grid point trained with the first seed, the best on validation
    retrained with the others; "all_seeds": every point per seed, the best mean wins.
    """
    specs = m.grid_specs(data.vocab_sizes, budget, s.grid_dims)
    t0 = time.perf_counter()
    if s.grid_select == "all_seeds":
        grid = [(spec, train(spec)) for spec in specs]
        best_spec, best_runs = max(grid, key=lambda g: sum(r.val for r in g[1]))
        return (best_spec, best_runs, (time.perf_counter() - t0) / len(s.seeds),
                f"{len(grid)} runs/seed")
    first = [m.train_eval(data, spec, s.seeds[0], s.max_epochs, patience=s.patience)
             for spec in specs]
    grid_s = time.perf_counter() - t0
    best = max(range(len(specs)), key=lambda i: first[i].val)
    rest = [m.train_eval(data, specs[best], seed, s.max_epochs, patience=s.patience)
            for seed in s.seeds[1:]]
    return specs[best], [first[best]] + rest, grid_s, f"{len(specs)} runs (seed {s.seeds[0]})"


def _mean(values) -> float:
    values = [v for v in values if v == v]
    return sum(values) / len(values) if values else float("nan")


def ceiling(data: bdata.TaskData, s: Settings) -> Dict:
    """The full-vocabulary d=32 SE model, retrained per seed: what a budget costs in quality."""
    spec = m.full_size_se_spec(data)
    runs = [m.train_eval(data, spec, seed, s.max_epochs, patience=s.patience) for seed in s.seeds]
    wall = sum(r.train_s for r in runs) / len(runs)
    return _record(data, spec.cost(), 1.0, report.CEILING, runs, wall, "1 run", {})


def full_size_throughput(data: bdata.TaskData) -> float:
    """Examples/s of the supernet's full size as a fixed SE model (one epoch)."""
    return m.train_eval(data, m.full_size_se_spec(data), 0, max_epochs=1).examples_per_s


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="smoke run of a few minutes")
    p.add_argument("--output", default="BENCHMARKS.md")
    p.add_argument("--plot", default=None, help="PNG path (default: docs/bench_plot.png for "
                   "BENCHMARKS.md, else next to --output)")
    p.add_argument("--work-dir", default=None, help="Transform outputs (default: a temp dir)")
    p.add_argument("--tasks", default=None, help="comma-separated subset of the tasks")
    p.add_argument("--fractions", default=None,
                   help="comma-separated subset of the budget fractions (e.g. 0.08)")
    p.add_argument("--search-seeds", default=None,
                   help="comma-separated search seeds of every NIS-SE / NIS-ME row (default 0,1,2)")
    p.add_argument("--random-order", action="store_true",
                   help="also run NIS-ME with SearchConfig(decision_order='random') (about 15 "
                        "more minutes)")
    p.add_argument("--jobs", type=int, default=None,
                   help="run the tasks in this many processes (default 1; wall times are then "
                        "measured while the other tasks run)")
    p.add_argument("--grid-select", choices=("first_seed", "all_seeds"), default=None,
                   help="grid protocol: points trained with the first seed and the best "
                        "retrained with the others (default), or every point per seed")
    p.add_argument("--merge", nargs=2, default=None, metavar=("BASE_JSON", "NEW_JSON"),
                   help="replace BASE's tasks by NEW_JSON's (a --tasks re-run), write the merged "
                        "raw records to BASE_JSON and re-render --output")
    p.add_argument("--render", default=None, metavar="JSON",
                   help="only re-render the report from a previous run's raw records "
                        "(make bench's: benchmarks/results/bench.json)")
    args = p.parse_args(argv)
    if args.merge:
        merge(*args.merge)
        args.render = args.merge[0]
    if args.render:
        render(args.render, args)
        return
    s = QUICK if args.quick else Settings()
    if args.tasks:
        s = dataclasses.replace(s, tasks=tuple(args.tasks.split(",")))
    if args.fractions:
        s = dataclasses.replace(s, fractions=tuple(float(f) for f in args.fractions.split(",")))
    if args.search_seeds:
        s = dataclasses.replace(s, search_seeds=tuple(int(x) for x in args.search_seeds.split(",")))
    if args.random_order:
        s = dataclasses.replace(s, random_order_row=True)
    if args.jobs:
        s = dataclasses.replace(s, jobs=args.jobs)
    if args.grid_select:
        s = dataclasses.replace(s, grid_select=args.grid_select)
    out_dir = os.path.dirname(os.path.abspath(args.output))
    plot_path = _plot_path(args)
    os.makedirs(out_dir, exist_ok=True)
    os.makedirs(os.path.dirname(os.path.abspath(plot_path)), exist_ok=True)
    machine = machine_info()
    start = time.perf_counter()
    raw = {"machine": machine, "settings": dataclasses.asdict(s), "tasks": {}, "perf": {},
           "records": [], "total_s": 0.0}
    with tempfile.TemporaryDirectory(prefix="nis_bench_") as tmp:
        work_dir = args.work_dir or tmp
        if s.jobs > 1:
            if any(name.startswith("ml100k_") for name in s.tasks):
                bdata.movielens_source()  # once, before the processes that read it start
            ctx = multiprocessing.get_context("spawn")  # TensorFlow does not survive a fork
            with concurrent.futures.ProcessPoolExecutor(s.jobs, mp_context=ctx) as pool:
                futures = [pool.submit(run_task, name, s, work_dir) for name in s.tasks]
                for future in concurrent.futures.as_completed(futures):
                    _add_task(raw, future.result(), start, args.output)
        else:
            for name in s.tasks:
                _add_task(raw, run_task(name, s, work_dir), start, args.output)
    order = {name: i for i, name in enumerate(s.tasks)}  # tasks in the settings' order
    raw["records"].sort(key=lambda r: order[r["task"]])
    raw["tasks"] = {name: raw["tasks"][name] for name in s.tasks}
    total_s = raw["total_s"]
    write_report(raw, s, args, plot_path)
    print(f"[bench] wrote {args.output} and {plot_path} in {total_s:.0f}s", flush=True)


def run_task(name: str, s: Settings, work_dir: str) -> Tuple[str, Dict, Dict, List[Dict]]:
    """Every budget of one task: (name, task facts, throughput facts, records)."""
    t0 = time.perf_counter()
    data = load_task(name, s, work_dir)
    info = {"vocab_sizes": data.vocab_sizes, "num_labels": data.num_labels,
            "sizes": {k: data.size(k) for k in bdata.SPLITS},
            "full_floats": data.full_floats(), "transform_s": data.transform_s,
            "pandas_s": data.pandas_s, "transform_rows": data.transform_rows}
    perf: Dict = {}
    records: List[Dict] = []
    for frac in s.fractions:
        records += bench_budget(data, frac, s, perf)
        print(f"[bench] {name} {frac:g} done at {time.perf_counter() - t0:.0f}s", flush=True)
    records.append(ceiling(data, s))
    perf["full_se_examples_per_s"] = full_size_throughput(data)
    info["wall_s"] = time.perf_counter() - t0
    return name, info, perf, records


def _add_task(raw: Dict, result, start: float, output: str) -> None:
    """Adds one finished task to ``raw`` and saves the raw records, so a stopped run keeps
    the finished tasks (render them with --render, or re-run the rest with --tasks and --merge)."""
    name, info, perf, records = result
    raw["tasks"][name], raw["perf"][name] = info, perf
    raw["records"] += records
    raw["total_s"] = time.perf_counter() - start
    path = report.results_json(output)
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(raw, f, indent=1, default=str)


def _plot_path(args) -> str:
    out_dir = os.path.dirname(os.path.abspath(args.output))
    return args.plot or (os.path.join(out_dir, "docs", "bench_plot.png")
                         if os.path.basename(args.output) == "BENCHMARKS.md"
                         else os.path.splitext(args.output)[0] + ".png")


def write_report(raw: Dict, s: Settings, args, plot_path: str, plot: bool = True) -> None:
    """Plot (unless ``plot`` is False: the existing one is linked) + markdown of one run."""
    if plot:
        report.plot(raw["records"], plot_path)
    rel_plot = os.path.relpath(os.path.abspath(plot_path), os.path.dirname(os.path.abspath(args.output)))
    text = document.markdown(raw["records"], raw["perf"], raw["tasks"], raw["machine"], s,
                             raw["total_s"], rel_plot, args, runs=raw.get("runs"))
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)


def _run_note(raw: Dict, tasks) -> str:
    return (f"{', '.join(tasks)}: {raw['total_s'] / 60:.1f} min, started at load average "
            f"{raw['machine']['load_average_at_start']}")


def merge(base_path: str, new_path: str) -> Dict:
    """BASE's raw records with every task of NEW (a later ``--tasks`` run) replaced by NEW's."""
    with open(base_path, encoding="utf-8") as f:
        base = json.load(f)
    with open(new_path, encoding="utf-8") as f:
        new = json.load(f)
    redone = list(new["tasks"])
    kept = [t for t in base["tasks"] if t not in redone]
    runs = base.get("runs") or [_run_note(base, list(base["tasks"]))]
    merged = dict(base, records=[r for r in base["records"] if r["task"] not in redone] + new["records"],
                  tasks={**{t: base["tasks"][t] for t in kept}, **new["tasks"]},
                  perf={**{t: base["perf"][t] for t in kept if t in base["perf"]}, **new["perf"]},
                  runs=runs + ["re-run of " + _run_note(new, redone)])
    with open(base_path, "w", encoding="utf-8") as f:
        json.dump(merged, f, indent=1, default=str)
    return merged


def render(json_path: str, args, plot: bool = True) -> None:
    """Re-renders ``args.output`` (and the plot, if ``plot``) from saved records; measures nothing."""
    with open(json_path, encoding="utf-8") as f:
        raw = json.load(f)
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in raw["settings"].items()}
    fields.setdefault("random_order_row", False)  # runs from before the row existed
    fields.setdefault("patience", 1)  # earlier runs stopped after 1 epoch without improvement
    fields.setdefault("grid_select", "all_seeds")  # earlier runs trained every point per seed
    write_report(raw, Settings(**fields), args, _plot_path(args), plot=plot)


if __name__ == "__main__":
    main()
