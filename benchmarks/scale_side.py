"""``python -m benchmarks.scale_side``: side measurements on a slice of the scale data set.

Generates (once per ``--work-dir``) the ``make bench-scale`` data at ``--rows`` rows with the
same ExampleGen/Transform path (``scale.prepare``), then runs what ``--what`` names at
``--fraction`` of the full d=32 floats, printing one line per result:

- ``profile``: milliseconds per compiled piece of an NIS-ME search step on fixed batches
  (``step_profile.profile``: warm-up step and its supernet forward and forward + gradients,
  search step, main step, controller pass and update, reward);
- ``scores``: one NIS-ME search, then its own supernet's reward (``supernet_scores.score``)
  for the emitted MES and for uniform widths 4, 8, 16 and 32 over the row blocks that fit
  (does the supernet, or the search space, keep the search from the grid's winner?);
- ``grid``: the uniform SE grid, every width with seed 0 (the scale benchmark's recipe);
- ``trainer-steps``: Trainer fit time at 1 and 64 steps per call, over TFRecords in one
  process and on the in-process parameter-server cluster (``trainer_steps``);
- ``nis-<SE|ME>-<paper|fine>``: one search (``--search-seed``, ``--option`` overrides of its
  ``SearchConfig``) and retrains with seeds 0 and 1;
  "fine" gives every feature above 100,000 ids the row blocks ``FINE_FRACTIONS`` instead of
  the paper's.

Example::

    python -m benchmarks.scale_side --rows 1000000 --work-dir /tmp/side --fraction 0.05 \\
        --what grid nis-ME-paper nis-ME-fine
"""
from __future__ import annotations

import argparse
import json
import os
import time
from typing import Dict, List, Optional

import numpy as np
import tensorflow as tf

from benchmarks import methods as m
from benchmarks import scale, scale_data, step_profile, trainer_steps
from benchmarks.data import tf_dataset
from benchmarks.supernet_scores import score
from trainer_module.spec.baselines import uniform_se_spec
from trainer_module.data.features import DatasetConfig
from trainer_module.search.search import NeuralInputSearch, SearchConfig, run_search
from trainer_module.search.space import SearchSpace

TRAINER_ROWS = 500_000  # train rows of the trainer-steps TFRecords
FINE_FRACTIONS = (0.01, 0.02, 0.04, 0.08, 0.15, 0.3, 0.4)
FINE_MIN_VOCAB = 100_000
WIDTHS = (4, 8, 16, 32)
WHATS = ({"profile", "scores", "grid", "trainer-steps"}
         | {f"nis-{mode}-{rows}" for mode in ("SE", "ME") for rows in ("paper", "fine")})


def load(rows: int, work_dir: str):
    """The slice's arrays, generated and transformed on the first call for ``work_dir``."""
    info_path = os.path.join(work_dir, "info.json")
    if not os.path.exists(info_path):
        info, _ = scale.prepare(scale.ScaleSettings(rows=rows), work_dir)
        with open(info_path, "w", encoding="utf-8") as f:
            json.dump(info, f, default=str)
    with open(info_path, encoding="utf-8") as f:
        info = json.load(f)
    return scale_data.load_arrays(os.path.join(work_dir, "arrays"),
                                  DatasetConfig.from_json(info["dataset"]), info["vocab_sizes"])


def space_overrides(vocab_sizes: Dict[str, int], rows: str) -> Optional[Dict]:
    """Search-space overrides: None for the paper's row blocks, finer head blocks for "fine"."""
    if rows == "paper":
        return None
    return {n: {"vocab_fractions": FINE_FRACTIONS} for n, v in vocab_sizes.items()
            if v > FINE_MIN_VOCAB}


def block_widths(space: SearchSpace, budget: int, width: int) -> Dict[str, list]:
    """Uniform ``width`` over the row blocks (whole ones) that the grid's water-filling keeps."""
    spec = uniform_se_spec({f.name: f.vocab_size for f in space.features}, budget, dim=width)
    out = {}
    for f in space.features:
        entries = spec.features[f.name].entries
        bounds = [b for b in f.cum_vocab[1:] if entries and b <= entries[0][0]]
        out[f.name] = [[bounds[-1], width]] if bounds else []
    return out


def _search_config(data, seed: int = 0, options: Optional[Dict] = None):
    cfg = m.search_config(data.task, seed, **{"optimizer": scale.OPTIMIZER, **(options or {})})
    return cfg.for_train_examples(data.size("train"), m.BATCH_SIZE)


def scores(data, budget: int) -> List[str]:
    """The NIS-ME search's supernet on its emitted MES and on uniform widths."""
    space = SearchSpace.from_vocab_sizes(data.vocab_sizes, budget, mode="ME")
    cfg = _search_config(data)
    batch = cfg.controller_batch_size(m.BATCH_SIZE)
    tf.keras.utils.set_random_seed(0)
    search = NeuralInputSearch(space, data.dataset, cfg, data.num_labels)
    emitted = search.run(tf_dataset(data.splits["train"], m.BATCH_SIZE, 0),
                         tf_dataset(data.splits["eval"], batch, 1)).spec
    batches = [b for _, b in zip(range(40), tf_dataset(data.splits["eval"], batch, 7))]
    mess = {"emitted": _mes(emitted)}
    mess.update({f"width {w} over whole row blocks": block_widths(space, budget, w) for w in WIDTHS})
    lines = []
    for name, mes in mess.items():
        s = score(search, mes, batches)
        lines.append(f"{name}: " + ("not on the ME grid" if s is None else
                                    f"{s['objective_x100']:.2f} +- {s['stderr']:.2f} "
                                    f"({s['cost']:,} floats) {json.dumps(mes)}"))
    return lines


def _mes(spec) -> Dict[str, list]:
    """A spec's entries per feature, as lists (JSON and ``supernet_scores.score`` take them)."""
    return {n: [list(e) for e in f.entries] for n, f in spec.features.items()}


def _auc_line(name: str, runs, extra: str = "") -> str:
    aucs = [r.test["auc"] * 100 for r in runs]
    return (f"{name}: test AUC {np.mean(aucs):.2f} +- {np.std(aucs):.2f} "
            f"{[round(a, 2) for a in aucs]} {extra}").rstrip()


def grid(data, budget: int, kw: Dict) -> List[str]:
    return [_auc_line(f"grid d={spec.metadata['dim']}", [m.train_eval(data, spec, 0, **kw)])
            for spec in m.grid_specs(data.vocab_sizes, budget, m.GRID_DIMS)]


def nis(data, budget: int, mode: str, rows: str, kw: Dict, search_seed: int = 0,
        options: Optional[Dict] = None) -> str:
    """One search (``search_seed``) with the paper's or the fine row blocks, retrained with
    seeds 0 and 1."""
    space = SearchSpace.from_vocab_sizes(data.vocab_sizes, budget, mode=mode,
                                         overrides=space_overrides(data.vocab_sizes, rows))
    cfg = _search_config(data, search_seed, options)
    tf.keras.utils.set_random_seed(search_seed)  # the supernet's initial weights, whatever ran before
    start = time.perf_counter()
    res = run_search(space, data.dataset, tf_dataset(data.splits["train"], m.BATCH_SIZE, 0),
                     tf_dataset(data.splits["eval"], cfg.controller_batch_size(m.BATCH_SIZE), 1),
                     cfg, num_labels=data.num_labels)
    search_s = time.perf_counter() - start
    runs = [m.train_eval(data, res.spec, seed, **kw) for seed in (0, 1)]
    return _auc_line(f"NIS-{mode} {rows} rows, search seed {search_seed}{options or ''}", runs,
                     f"search {search_s:.0f} s, {res.spec.cost():,} of {budget:,} floats, "
                     f"MES {json.dumps(_mes(res.spec))}")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--work-dir", required=True, help="holds the slice; reused when present")
    p.add_argument("--fraction", type=float, default=0.05)
    p.add_argument("--what", nargs="+", default=["profile"])
    p.add_argument("--search-seed", type=int, default=0, help="seed of the nis-* searches")
    p.add_argument("--option", action="append", default=[], metavar="NAME=JSON",
                   help="a SearchConfig override of the nis-* searches, e.g. search_epochs=1")
    args = p.parse_args(argv)
    unknown = [w for w in args.what if w not in WHATS]
    if unknown:
        p.error(f"unknown --what {unknown}; expected one of {sorted(WHATS)}")
    try:
        options = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
    except ValueError:
        p.error(f"--option takes NAME=JSON (e.g. search_epochs=1), got {args.option}")
    try:  # option names and types, before minutes of data work
        SearchConfig.from_dict(options)
    except ValueError as e:
        p.error(str(e))
    data = load(args.rows, args.work_dir)
    budget = int(args.fraction * data.full_floats())
    kw = scale.train_kwargs(scale.ScaleSettings(), data.size("train"))
    print(f"[side] {args.rows:,} rows, vocabularies {data.vocab_sizes}, budget {budget:,} "
          f"({args.fraction:g} of the full d=32 floats)", flush=True)
    for what in args.what:
        if what == "profile":
            lines = [f"{k}: {v:.2f}" if isinstance(v, float) else f"{k}: {v}"
                     for k, v in step_profile.profile(data, args.fraction, "ME", 50).items()]
        elif what == "scores":
            lines = scores(data, budget)
        elif what == "grid":
            lines = grid(data, budget, kw)
        elif what == "trainer-steps":
            lines = (trainer_steps.one_process(data, budget, args.work_dir, TRAINER_ROWS)
                     + trainer_steps.parameter_servers(data, budget))
        else:
            _, mode, rows = what.split("-")
            lines = [nis(data, budget, mode, rows, kw, args.search_seed, options)]
        for line in lines:
            print(f"[side] {args.fraction:g} {what}: {line}", flush=True)


if __name__ == "__main__":
    main()
