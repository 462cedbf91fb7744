"""``python -m benchmarks.supernet_scores``: does the search's own reward prefer another MES?

Runs one NIS-ME search (seed 0, library defaults, ``--order``) on a benchmark task
and budget, then scores on its trained supernet the MES it emitted and every MES
that a saved benchmark run (``BENCHMARKS.json``) reports for the same task and
budget, with the reward the controller sees (grouped AUC or Sampled Recall@1) on
``--batches`` validation batches. A MES the supernet rates far above the emitted
one means the controller missed it (a search failure); a MES that retrains well
but scores low means the supernet misleads it.

Example::

    python -m benchmarks.supernet_scores --task ml100k_retrieval --fraction 0.02
"""
from __future__ import annotations

import argparse
import json
import tempfile
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from benchmarks import methods as m
from benchmarks import run
from benchmarks.data import tf_dataset
from trainer_module.search.search import NeuralInputSearch
from trainer_module.search.space import SearchSpace


def score(search: NeuralInputSearch, mes: Dict[str, list], batches) -> Optional[Dict]:
    """Mean reward objective (x100) and its standard error of ``mes`` on ``batches``."""
    actions: List[int] = []
    for f in search.space.features:
        levels = f.mes_to_levels(mes[f.name])
        if levels is None:
            return None
        actions += levels
    values = [v * 100 for v in search.scores(actions, batches)]
    return {"cost": search.space.cost(actions), "objective_x100": float(np.mean(values)),
            "stderr": float(np.std(values) / np.sqrt(len(values)))}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="ml100k_retrieval", choices=run.Settings().tasks)
    p.add_argument("--fraction", type=float, default=0.02)
    p.add_argument("--order", default="feature", choices=("feature", "random"),
                   help="SearchConfig.decision_order of the search")
    p.add_argument("--bench", default="BENCHMARKS.json", help="raw records whose MESs are scored")
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--option", action="append", default=[], metavar="NAME=JSON",
                   help="another SearchConfig override, e.g. entropy_weight=0 (repeatable)")
    args = p.parse_args(argv)
    overrides = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
    with open(args.bench, encoding="utf-8") as f:
        records = [r for r in json.load(f)["records"]
                   if r["task"] == args.task and abs(r["fraction"] - args.fraction) < 1e-9]
    with tempfile.TemporaryDirectory(prefix="nis_scores_") as tmp:
        data = run.load_task(args.task, run.Settings(), tmp)
        space = SearchSpace.from_vocab_sizes(data.vocab_sizes, int(args.fraction * data.full_floats()))
        cfg = m.search_config(data.task, 0, **{"decision_order": args.order, **overrides})
        batch = cfg.controller_batch_size(m.BATCH_SIZE)
        tf.keras.utils.set_random_seed(0)
        search = NeuralInputSearch(space, data.dataset, cfg, data.num_labels)
        emitted = search.run(tf_dataset(data.splits["train"], m.BATCH_SIZE, 0),
                             tf_dataset(data.splits["eval"], batch, 1)).spec
        batches = [b for _, b in zip(range(args.batches), tf_dataset(data.splits["eval"], batch, 7))]
        mess = {"emitted by this search": {n: [list(e) for e in f.entries]
                                           for n, f in emitted.features.items()}}
        mess.update({r["method"]: r["mes"] for r in records})
        print(f"{args.task} budget {space.budget:,} ({args.order} order{overrides or ''}), "
              f"{args.batches} batches")
        for name, mes in mess.items():
            s = score(search, mes, batches)
            print(f"  {name}: " + ("not on the ME grid" if s is None else
                                  f"{s['objective_x100']:.2f} +- {s['stderr']:.2f} ({s['cost']:,} floats)"))


if __name__ == "__main__":
    main()
