"""Cold vs warm re-run of the search on a second data slice (scheduled re-run scenario).

Slice A (synthetic ranking, seed 0) is searched cold; its MES and final controller
are the "previous run". Slice B (synthetic ranking, seed 1: same generator, new
rows and vocabularies) is then searched cold with ``search_steps`` and warm from
slice A with fewer steps; every emitted MES is retrained with the benchmark's
recipe (``methods.train_eval``) for a few seeds and its test AUC reported.

    python -m benchmarks.warm_start --out /tmp/warm.json
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from typing import Dict, Optional

import tensorflow as tf

from benchmarks import data as bdata
from benchmarks import methods as m
from trainer_module.search.search import run_search
from trainer_module.search.config import SearchConfig
from trainer_module.search.space import SearchSpace
from trainer_module.search.warm_start import WarmStart


def search(data: bdata.TaskData, budget: int, steps: int, warmup: int, seed: int,
           warm: Optional[WarmStart] = None, controller_dir: Optional[str] = None) -> Dict:
    cfg = SearchConfig(task="ranking", seed=seed, warmup_steps=warmup, search_steps=steps)
    space = SearchSpace.from_vocab_sizes(data.vocab_sizes, budget, mode="ME")
    train = bdata.tf_dataset(data.splits["train"], m.BATCH_SIZE, seed)
    val = bdata.tf_dataset(data.splits["eval"], cfg.controller_batch_size(m.BATCH_SIZE), seed + 1)
    tf.keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    res = run_search(space, data.dataset, train, val, cfg, warm_start=warm,
                     controller_dir=controller_dir)
    return {"spec": res.spec, "search_s": time.perf_counter() - start, "steps": warmup + steps}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=30_000)
    parser.add_argument("--budget-frac", type=float, default=0.1)
    parser.add_argument("--warmup-steps", type=int, default=200)
    parser.add_argument("--search-steps", type=int, default=600)
    parser.add_argument("--warm-search-steps", type=int, default=150)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    work = tempfile.mkdtemp(prefix="nis_warm_")
    slices = {}
    for name, seed in (("A", 0), ("B", 1)):
        frames, dataset = bdata.synthetic_frames("ranking", args.examples, seed)
        slices[name] = bdata.transform(f"slice_{name}", frames, dataset, work)
    budget = int(args.budget_frac * slices["B"].full_floats())
    controller = os.path.join(work, "controller")
    prev = search(slices["A"], budget, args.search_steps, args.warmup_steps, 0,
                  controller_dir=controller)
    runs = {"cold": search(slices["B"], budget, args.search_steps, args.warmup_steps, 0),
            "warm": search(slices["B"], budget, args.warm_search_steps, args.warmup_steps, 0,
                           warm=WarmStart(prev["spec"], controller)),
            "previous MES": {"spec": prev["spec"], "search_s": 0.0, "steps": 0}}
    out = {"vocab_A": slices["A"].vocab_sizes, "vocab_B": slices["B"].vocab_sizes,
           "budget": budget}
    for name, run in runs.items():
        spec = run["spec"]
        if name == "previous MES":  # slice A's MES as it serves, retrained on slice B
            space = SearchSpace.from_vocab_sizes(slices["B"].vocab_sizes, budget, mode="ME")
            from trainer_module.search.warm_start import project  # pylint: disable=import-outside-toplevel
            spec = space.to_spec(project(space, spec))
        aucs = [m.train_eval(slices["B"], spec, seed).test["auc"] for seed in args.seeds]
        out[name] = {"search_s": round(run["search_s"], 1), "steps": run["steps"],
                     "cost": spec.cost(), "auc": aucs,
                     "warm_start_chosen": spec.metadata.get("warm_start_chosen"),
                     "mes": {n: [list(e) for e in f.entries] for n, f in spec.features.items()}}
        print(name, json.dumps({k: v for k, v in out[name].items() if k != "mes"}), flush=True)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
