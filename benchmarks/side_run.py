"""``python -m benchmarks.side_run``: one NIS search with overrides, its MES retrained per seed.

A side run beside the full benchmark: one ``methods.nis_search`` (``--search-seed``, 0 as
in the benchmark; library defaults plus ``--option`` overrides) on one task and budget,
then the emitted MES retrained with ``methods.train_eval`` for every ``--seeds`` seed;
prints the test metric per seed and its mean (the numbers ``benchmarks/findings.md`` quotes).

Example::

    python -m benchmarks.side_run --task ml100k_ranking --fraction 0.08 --option logit_bound=0
"""
from __future__ import annotations

import argparse
import json
import tempfile

import numpy as np

from benchmarks import methods as m
from benchmarks import run


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="ml100k_ranking", choices=run.Settings().tasks)
    p.add_argument("--fraction", type=float, default=0.08)
    p.add_argument("--mode", default="ME", choices=("SE", "ME"))
    p.add_argument("--seeds", default="0,1,2", help="comma-separated retrain seeds")
    p.add_argument("--search-seed", type=int, default=0,
                   help="the search's seed (the full benchmark searches with 0)")
    p.add_argument("--option", action="append", default=[], metavar="NAME=JSON",
                   help="a SearchConfig override, e.g. logit_bound=0 (repeatable)")
    args = p.parse_args(argv)
    overrides = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
    with tempfile.TemporaryDirectory(prefix="nis_side_") as tmp:
        data = run.load_task(args.task, run.Settings(), tmp)
        budget = int(args.fraction * data.full_floats())
        search = m.nis_search(data, budget, args.mode, args.search_seed, **overrides)
        runs = [m.train_eval(data, search.spec, int(s)) for s in args.seeds.split(",")]
    key = "auc" if data.task == "ranking" else "recall_at_1"
    values = [r.test[key] * 100 for r in runs]
    mes = {n: [list(e) for e in f.entries] for n, f in search.spec.features.items()}
    print(json.dumps({"task": args.task, "fraction": args.fraction, "mode": args.mode,
                      "options": overrides, "search_seed": args.search_seed, "budget": budget,
                      "cost": search.spec.cost(),
                      "search_s": round(search.search_s), f"{key}_x100": [round(v, 2) for v in values],
                      "mean": round(float(np.mean(values)), 2), "mes": mes}), flush=True)


if __name__ == "__main__":
    main()
