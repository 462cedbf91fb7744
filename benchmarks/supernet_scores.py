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
import itertools
import json
import tempfile
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from benchmarks import methods as m
from benchmarks import run
from benchmarks.data import tf_dataset
from trainer_module.search import NeuralInputSearch
from trainer_module.search_space import FeatureSearchSpace, SearchSpace


def _block_widths(feature: FeatureSearchSpace, entries: Sequence[Sequence[int]]) -> Optional[List[int]]:
    """Width of every row block under ``entries``; None unless entries end on block boundaries."""
    widths, i, left = [], 0, [int(r) for r, _ in entries]
    for size in feature.block_vocab:
        if i == len(entries):
            widths.append(0)
            continue
        if left[i] < size:
            return None
        widths.append(int(entries[i][1]))
        left[i] -= size
        i += left[i] == 0
    return widths if i == len(entries) else None


def mes_to_levels(feature: FeatureSearchSpace, entries: Sequence[Sequence[int]]) -> Optional[List[int]]:
    """An ME level vector of ``feature`` that realises ``entries`` ((rows, width), ...); None if
    the MES is not on this space's grid (e.g. an SE width that is no sum of its dim chunks).

    Chunk t is active in row blocks 1..level_t, so the active chunk sets shrink block by
    block: they are chosen from the last block up, each a superset of the next one's.
    """
    widths = _block_widths(feature, entries)
    if widths is None:
        return None
    dims, n = feature.dim_chunks, feature.num_col_blocks

    def extend(s: int, active: frozenset) -> Optional[List[frozenset]]:
        if s < 0:
            return []
        need = widths[s] - sum(dims[t] for t in active)
        free = [t for t in range(n) if t not in active]
        for k in range(len(free) + 1):
            for extra in itertools.combinations(free, k):
                if sum(dims[t] for t in extra) == need:
                    rest = extend(s - 1, active | frozenset(extra))
                    if rest is not None:
                        return rest + [active | frozenset(extra)]
        return None

    sets = extend(len(widths) - 1, frozenset())
    if sets is None:
        return None
    return [max((s + 1 for s, a in enumerate(sets) if t in a), default=0) for t in range(n)]


def score(search: NeuralInputSearch, mes: Dict[str, list], batches) -> Optional[Dict]:
    """Mean reward objective (x100) and its standard error of ``mes`` on ``batches``."""
    actions: List[int] = []
    for f in search.space.features:
        levels = mes_to_levels(f, mes[f.name])
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
    p.add_argument("--order", default="feature", help="SearchConfig.decision_order of the search")
    p.add_argument("--bench", default="BENCHMARKS.json", help="raw records whose MESs are scored")
    p.add_argument("--batches", type=int, default=40)
    args = p.parse_args(argv)
    with open(args.bench, encoding="utf-8") as f:
        records = [r for r in json.load(f)["records"]
                   if r["task"] == args.task and abs(r["fraction"] - args.fraction) < 1e-9]
    with tempfile.TemporaryDirectory(prefix="nis_scores_") as tmp:
        data = run.load_task(args.task, run.Settings(), tmp)
        space = SearchSpace.from_vocab_sizes(data.vocab_sizes, int(args.fraction * data.full_floats()))
        cfg = m.search_config(data.task, 0, decision_order=args.order)
        batch = cfg.controller_batch_size(m.BATCH_SIZE)
        tf.keras.utils.set_random_seed(0)
        search = NeuralInputSearch(space, data.dataset, cfg, data.num_labels)
        emitted = search.run(tf_dataset(data.splits["train"], m.BATCH_SIZE, 0),
                             tf_dataset(data.splits["eval"], batch, 1)).spec
        batches = [b for _, b in zip(range(args.batches), tf_dataset(data.splits["eval"], batch, 7))]
        mess = {"emitted by this search": {n: [list(e) for e in f.entries]
                                           for n, f in emitted.features.items()}}
        mess.update({r["method"]: r["mes"] for r in records})
        print(f"{args.task} budget {space.budget:,} ({args.order} order), {args.batches} batches")
        for name, mes in mess.items():
            s = score(search, mes, batches)
            print(f"  {name}: " + ("not on the ME grid" if s is None else
                                  f"{s['objective_x100']:.2f} +- {s['stderr']:.2f} ({s['cost']:,} floats)"))


if __name__ == "__main__":
    main()
