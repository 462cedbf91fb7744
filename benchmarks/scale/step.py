"""``python -m benchmarks.scale.step``: supernet step time at small vs large vocabularies.

Builds the same ranking supernet twice, once with ``--small`` and once with ``--large``
rows per feature (``--features`` features of width ``--dim``, so only the row count
differs), and times the search's main-model step (``warmup_step`` of
``SearchSteps.warmup_fn``: one supernet forward, backward and optimizer update)
on one fixed batch whose ids all lie in
the small vocabulary. Per-step work that follows the batch gives a ratio near 1; an
optimizer that touches every row of every table gives a ratio that grows with the rows.
Prints milliseconds per step for each size and optimizer and the large/small ratio.

Example::

    python -m benchmarks.scale.step --small 10000 --large 1000000 --optimizers lazy_adam adam
"""
from __future__ import annotations

import argparse
import gc
import time
from typing import Dict, Sequence

import numpy as np
import tensorflow as tf

from trainer_module.data.features import DatasetConfig, FeatureConfig
from trainer_module.search.search import NeuralInputSearch
from trainer_module.search.config import SearchConfig
from trainer_module.search.space import SearchSpace

BATCH_SIZE = 256
HISTORY_LEN = 10


def dataset_config(num_features: int) -> DatasetConfig:
    """A ranking dataset: ``num_features - 1`` single ids and one bag of ``HISTORY_LEN`` ids."""
    feats = [FeatureConfig(f"id_{i}") for i in range(num_features - 1)]
    feats.append(FeatureConfig("history", multivalent=True, max_len=HISTORY_LEN, combiner="mean"))
    return DatasetConfig(task="ranking", label="label", features=tuple(feats))


def fixed_batch(dataset: DatasetConfig, max_id: int, seed: int = 0):
    """One training batch of Zipf-like ids below ``max_id`` (valid at every vocabulary size)."""
    rng = np.random.default_rng(seed)
    feats = {}
    for f in dataset.features:
        ids = np.minimum(rng.zipf(1.2, size=(BATCH_SIZE, f.max_len)) - 1, max_id - 1)
        feats[f.name] = tf.constant(ids, tf.int64)
    return feats, tf.constant(rng.integers(0, 2, size=(BATCH_SIZE, 1)), tf.int64)


def supernet_step(rows: int, optimizer: str, num_features: int, dim: int, batch):
    """The compiled supernet step with ``rows`` rows in every feature's table, traced on ``batch``."""
    dataset = dataset_config(num_features)
    vocab = {f.name: rows for f in dataset.features}
    space = SearchSpace.from_vocab_sizes(vocab, budget=rows * dim, mode="ME",
                                         overrides={n: {"dim": dim} for n in vocab})
    search = NeuralInputSearch(space, dataset, SearchConfig(optimizer=optimizer))
    number = tf.constant(0, tf.int64)
    step = lambda: search.steps.warmup_fn(*batch, number)  # noqa: E731
    for _ in range(3):  # trace and warm up
        out = step()
    _ = out.numpy()
    return step


def block_ms(step, repeats: int) -> float:
    """Milliseconds per call over ``repeats`` consecutive calls."""
    start = time.perf_counter()
    for _ in range(repeats):
        out = step()
    _ = out.numpy()  # the calls are asynchronous: wait for the last one
    return (time.perf_counter() - start) / repeats * 1000.0


def measure(small: int, large: int, optimizers: Sequence[str], num_features: int = 3,
            dim: int = 32, repeats: int = 10, rounds: int = 3) -> Dict[str, Dict[str, float]]:
    """``{optimizer: {"small_ms", "large_ms", "ratio"}}`` for the two table sizes.

    The two sizes are timed in alternating blocks of ``repeats`` steps, ``rounds`` times, and
    each keeps its fastest block, so load from other processes on the machine affects both
    alike.
    """
    batch = fixed_batch(dataset_config(num_features), small)
    out = {}
    for name in optimizers:
        steps = {"small_ms": supernet_step(small, name, num_features, dim, batch),
                 "large_ms": supernet_step(large, name, num_features, dim, batch)}
        times = {k: float("inf") for k in steps}
        for _ in range(rounds):
            for k in steps:
                times[k] = min(times[k], block_ms(steps[k], repeats))
        times["ratio"] = times["large_ms"] / times["small_ms"]
        out[name] = times
        del steps
        gc.collect()  # free this optimizer's supernets before the next pair is built
    return out


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--small", type=int, default=10_000, help="rows per feature, small tables")
    p.add_argument("--large", type=int, default=1_000_000, help="rows per feature, large tables")
    p.add_argument("--features", type=int, default=3, help="features (the last one a bag)")
    p.add_argument("--dim", type=int, default=32, help="maximum width of every feature")
    p.add_argument("--repeats", type=int, default=10, help="timed steps per block")
    p.add_argument("--rounds", type=int, default=3, help="alternating blocks per size")
    p.add_argument("--optimizers", nargs="+", default=["lazy_adam", "adam"])
    args = p.parse_args(argv)
    results = measure(args.small, args.large, args.optimizers, args.features, args.dim,
                      args.repeats, args.rounds)
    for name, t in results.items():
        print(f"{name}: {args.small} rows {t['small_ms']:.1f} ms/step, {args.large} rows "
              f"{t['large_ms']:.1f} ms/step, ratio {t['ratio']:.2f}")


if __name__ == "__main__":
    main()
