"""Deterministic synthetic recommendation data with a planted Neural Input Search signal.

The generator writes a CSV file for ``CsvExampleGen``, a matching TFMD schema for
``ImportSchemaGen`` / ``ExampleValidator`` and returns the ``DatasetConfig`` that
``preprocessing_fn`` and the search read. Same arguments and seed -> same bytes.

Columns (ids are Zipf-distributed: rank ``r`` has probability ``~ (r+1)^-s``; the
rank -> id-string mapping is a random permutation, so ids are not sorted by
frequency):

* ``user_id`` (``u...``), ``item_id`` (``i...``): high cardinality.
* ``item_category`` (``c...``): a fixed function of the item.
* ``region`` (``r...``): a user's home region most of the time.
* ``history`` (multi-valued): 0..``history_len`` item ids joined by ``|``; an empty
  cell (missing value) when the user has no history.
* ``noise_id`` (``n...``): drawn from its own random stream, independent of
  everything else -- a search should starve it.

Planted signal: each of the ``num_head_items`` most popular items has a random
``latent_dim``-dim latent vector; each region has one too. Tail items have none.

* ``ranking`` -- label ``clicked`` (0/1) ~ Bernoulli(sigmoid(
  2 * <item latent, region latent> + category bias + user bias + history bias)).
  Only head rows carry the interaction, so head ``item_id`` ids need wide
  embeddings while tail ids carry little beyond their category.
* ``retrieval`` -- label ``next_item`` (an item id). With probability 0.8 it is a
  head item sampled from ``softmax(2 * <current item latent @ T + region latent,
  candidate latent> + 0.5 * log popularity)`` (``T`` a random transition
  matrix); otherwise a Zipf draw over all items.

Layout written by ``generate(task, num_examples, seed, out_dir)``::

    out_dir/data/data.csv         # CsvExampleGen input_base = out_dir/data
    out_dir/schema/schema.pbtxt   # ImportSchemaGen schema_file
    out_dir/truth.json            # planted ground truth (head item ids, sizes)

CLI: ``python -m pipelines.data.synthetic --help``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from trainer_module.data.features import DatasetConfig, FeatureConfig

TASKS = ("ranking", "retrieval")
USER, ITEM, CATEGORY, REGION, HISTORY, NOISE = (
    "user_id", "item_id", "item_category", "region", "history", "noise_id")
FEATURES = (USER, ITEM, CATEGORY, REGION, HISTORY, NOISE)
LABELS = {"ranking": "clicked", "retrieval": "next_item"}
SEPARATOR = "|"
CSV_NAME, SCHEMA_NAME, TRUTH_NAME = "data.csv", "schema.pbtxt", "truth.json"
HOME_REGION_PROB = 0.7      # a row's region is the user's home region this often
INTERACTION_SCALE = 2.0     # weight of the head-item x region latent interaction
RETRIEVAL_SIGNAL_PROB = 0.8  # retrieval rows whose label follows the planted softmax
PRIOR_WEIGHT = 0.5          # weight of log popularity in the planted next-item logits
HISTORY_PRESENCE = 0.5      # schema: min fraction of rows with a non-empty history


@dataclasses.dataclass(frozen=True)
class SyntheticSizes:
    """Cardinalities and shape of the planted signal (small defaults for tests/demo)."""

    num_users: int = 2000
    num_items: int = 5000
    num_categories: int = 300
    num_regions: int = 200
    num_noise: int = 1000
    num_head_items: int = 100
    latent_dim: int = 16
    history_len: int = 5
    zipf_exponent: float = 1.1

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if getattr(self, field.name) <= 0:
                raise ValueError(f"{field.name} must be positive, got {getattr(self, field.name)}")
        if self.num_head_items > self.num_items:
            raise ValueError(f"num_head_items ({self.num_head_items}) exceeds num_items "
                             f"({self.num_items})")


PRESETS = {
    "small": SyntheticSizes(),
    "large": SyntheticSizes(num_users=50_000, num_items=100_000, num_categories=1000,
                            num_regions=500, num_noise=5000, num_head_items=1000,
                            latent_dim=32),
}


@dataclasses.dataclass(frozen=True)
class PlantedParams:
    """The hidden generative parameters (depend on seed and sizes, not on row count).

    Tables are indexed by popularity rank (0 = most frequent under the Zipf law).
    """

    names: Dict[str, np.ndarray]      # feature -> rank -> id string (history uses item ids)
    item_category: np.ndarray         # item rank -> category rank
    user_home_region: np.ndarray      # user rank -> region rank
    item_latent: np.ndarray           # [num_head_items, latent_dim]
    transition: np.ndarray            # [latent_dim, latent_dim] current -> next item latent
    region_latent: np.ndarray         # [num_regions, latent_dim]
    category_bias: np.ndarray
    user_bias: np.ndarray
    item_history_bias: np.ndarray

    @property
    def head_items(self) -> Tuple[str, ...]:
        return tuple(self.names[ITEM][: len(self.item_latent)])


@dataclasses.dataclass(frozen=True)
class SyntheticData:
    """Generated columns (CSV cell values) plus what produced them."""

    task: str
    columns: Dict[str, np.ndarray]
    ranks: Dict[str, np.ndarray]      # single-valued feature -> per-row popularity rank
    params: PlantedParams
    dataset: DatasetConfig


def dataset_config(task: str, sizes: Optional[SyntheticSizes] = None) -> DatasetConfig:
    """The ``DatasetConfig`` describing the synthetic columns of ``task``."""
    _check_task(task)
    sizes = sizes or SyntheticSizes()
    feats = [FeatureConfig(n) for n in (USER, ITEM, CATEGORY, REGION)]
    feats.append(FeatureConfig(HISTORY, multivalent=True, max_len=sizes.history_len,
                               separator=SEPARATOR, combiner="mean"))
    feats.append(FeatureConfig(NOISE))
    return DatasetConfig(task=task, label=LABELS[task], features=tuple(feats))


def make_schema(task: str) -> schema_pb2.Schema:
    """TFMD schema of the synthetic CSV of ``task`` (independent of sizes and seed)."""
    _check_task(task)
    schema = schema_pb2.Schema()
    for name in FEATURES:
        _add_feature(schema, name, schema_pb2.BYTES,
                     min_fraction=HISTORY_PRESENCE if name == HISTORY else 1.0)
    label = _add_feature(schema, LABELS[task],
                         schema_pb2.INT if task == "ranking" else schema_pb2.BYTES)
    if task == "ranking":
        label.int_domain.min, label.int_domain.max = 0, 1
        label.int_domain.is_categorical = True
    return schema


def schema_text(task: str) -> str:
    """``make_schema(task)`` as the text written to ``schema.pbtxt``."""
    header = (f"# TFMD schema of the synthetic {task} dataset. Regenerate with:\n"
              f"#   python -m pipelines.data.synthetic --task {task} "
              f"--write-schema schemas/synthetic_{task}/{SCHEMA_NAME}\n")
    return header + text_format.MessageToString(make_schema(task))


def generate_columns(task: str, num_examples: int, seed: int = 0,
                     sizes: Optional[SyntheticSizes] = None) -> SyntheticData:
    """Generates the columns of ``task`` in memory (no files)."""
    _check_task(task)
    if num_examples < 1:
        raise ValueError(f"num_examples must be >= 1, got {num_examples}")
    sizes = sizes or SyntheticSizes()
    params_ss, rows_ss, noise_ss, label_ss = np.random.SeedSequence(seed).spawn(4)
    params = _planted_params(np.random.default_rng(params_ss), sizes)
    ranks, history = _sample_rows(np.random.default_rng(rows_ss), params, sizes, num_examples)
    ranks[NOISE] = _zipf(np.random.default_rng(noise_ss), sizes.num_noise,
                         sizes.zipf_exponent, num_examples)
    label_rng = np.random.default_rng(label_ss)
    if task == "ranking":
        label = _ranking_labels(label_rng, params, ranks, history)
    else:
        label = params.names[ITEM][_retrieval_labels(label_rng, params, ranks, sizes)]
    columns = {name: params.names[name][ranks[name]]
               for name in (USER, ITEM, CATEGORY, REGION, NOISE)}
    columns[HISTORY] = _history_cells(params.names[ITEM], history)
    columns[LABELS[task]] = label
    return SyntheticData(task, columns, ranks, params, dataset_config(task, sizes))


def generate(task: str, num_examples: int, seed: int, out_dir: str,
             sizes: Optional[SyntheticSizes] = None) -> Tuple[str, str, DatasetConfig]:
    """Writes ``out_dir/data/data.csv``, ``out_dir/schema/schema.pbtxt`` and ``truth.json``.

    Returns:
      ``(csv_path, schema_path, dataset_config)``. Point ``CsvExampleGen`` at
      ``os.path.dirname(csv_path)`` (it reads every file in its input folder).
    """
    sizes = sizes or SyntheticSizes()
    data = generate_columns(task, num_examples, seed, sizes)
    csv_path = os.path.join(out_dir, "data", CSV_NAME)
    schema_path = os.path.join(out_dir, "schema", SCHEMA_NAME)
    _write_csv(csv_path, data.columns, list(FEATURES) + [LABELS[task]])
    write_schema(task, schema_path)
    truth = {"task": task, "seed": seed, "num_examples": num_examples,
             "sizes": dataclasses.asdict(sizes), "signal_feature": ITEM, "noise_feature": NOISE,
             "head_items": list(data.params.head_items)}
    with open(os.path.join(out_dir, TRUTH_NAME), "w", encoding="utf-8") as f:
        json.dump(truth, f, indent=1)
    return csv_path, schema_path, data.dataset


def write_schema(task: str, path: str) -> str:
    """Writes ``schema_text(task)`` to ``path`` (creating folders); returns ``path``."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(schema_text(task))
    return path


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")


def _add_feature(schema: schema_pb2.Schema, name: str, ftype: int,
                 min_fraction: float = 1.0) -> schema_pb2.Feature:
    feature = schema.feature.add(name=name, type=ftype)
    feature.presence.min_fraction = min_fraction
    feature.presence.min_count = 1
    feature.value_count.min = feature.value_count.max = 1  # one CSV cell per column
    if min_fraction < 1.0:  # an empty CSV cell is present with zero values
        feature.value_count.min = 0
    return feature


def _zipf_probs(n: int, exponent: float) -> np.ndarray:
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    return weights / weights.sum()


def _zipf(rng: np.random.Generator, n: int, exponent: float, size) -> np.ndarray:
    return rng.choice(n, size=size, p=_zipf_probs(n, exponent))


def _id_names(rng: np.random.Generator, prefix: str, n: int) -> np.ndarray:
    return np.array([f"{prefix}{i}" for i in rng.permutation(n)])


def _planted_params(rng: np.random.Generator, s: SyntheticSizes) -> PlantedParams:
    names = {USER: _id_names(rng, "u", s.num_users), ITEM: _id_names(rng, "i", s.num_items),
             CATEGORY: _id_names(rng, "c", s.num_categories),
             REGION: _id_names(rng, "r", s.num_regions), NOISE: _id_names(rng, "n", s.num_noise)}
    latent_scale = s.latent_dim ** -0.25  # <item, region> has unit variance
    return PlantedParams(
        names=names,
        item_category=_zipf(rng, s.num_categories, s.zipf_exponent, s.num_items),
        user_home_region=_zipf(rng, s.num_regions, s.zipf_exponent, s.num_users),
        item_latent=rng.normal(0.0, latent_scale, (s.num_head_items, s.latent_dim)),
        region_latent=rng.normal(0.0, latent_scale, (s.num_regions, s.latent_dim)),
        transition=rng.normal(0.0, s.latent_dim ** -0.5, (s.latent_dim, s.latent_dim)),
        category_bias=rng.normal(0.0, 0.5, s.num_categories),
        user_bias=rng.normal(0.0, 0.3, s.num_users),
        item_history_bias=rng.normal(0.0, 0.3, s.num_items))


def _sample_rows(rng: np.random.Generator, p: PlantedParams, s: SyntheticSizes,
                 n: int) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Per-row ranks of the single-valued features and a [n, history_len] history (-1 = none)."""
    users = _zipf(rng, s.num_users, s.zipf_exponent, n)
    items = _zipf(rng, s.num_items, s.zipf_exponent, n)
    away = _zipf(rng, s.num_regions, s.zipf_exponent, n)
    regions = np.where(rng.random(n) < HOME_REGION_PROB, p.user_home_region[users], away)
    history = _zipf(rng, s.num_items, s.zipf_exponent, (n, s.history_len))
    lengths = rng.integers(0, s.history_len + 1, n)
    history[np.arange(s.history_len)[None, :] >= lengths[:, None]] = -1
    ranks = {USER: users, ITEM: items, CATEGORY: p.item_category[items], REGION: regions}
    return ranks, history


def _head_latent(p: PlantedParams, item_ranks: np.ndarray) -> np.ndarray:
    """Latent vector per row's item; zeros for tail items."""
    num_head = len(p.item_latent)
    out = np.zeros((len(item_ranks), p.item_latent.shape[1]))
    head = item_ranks < num_head
    out[head] = p.item_latent[item_ranks[head]]
    return out


def _ranking_labels(rng: np.random.Generator, p: PlantedParams, ranks: Dict[str, np.ndarray],
                    history: np.ndarray) -> np.ndarray:
    interaction = np.sum(_head_latent(p, ranks[ITEM]) * p.region_latent[ranks[REGION]], axis=1)
    hist_bias = np.where(history >= 0, p.item_history_bias[np.maximum(history, 0)], 0.0)
    hist_mean = hist_bias.sum(axis=1) / np.maximum((history >= 0).sum(axis=1), 1)
    logit = (INTERACTION_SCALE * interaction + p.category_bias[ranks[CATEGORY]]
             + p.user_bias[ranks[USER]] + hist_mean)
    return (rng.random(len(logit)) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)


def retrieval_logits(p: PlantedParams, item_ranks: np.ndarray, region_ranks: np.ndarray,
                     zipf_exponent: float) -> np.ndarray:
    """Planted ``[rows, num_head_items]`` logits of the next head item (signal rows)."""
    num_head = len(p.item_latent)
    query = _head_latent(p, item_ranks) @ p.transition + p.region_latent[region_ranks]
    log_prior = np.log(_zipf_probs(len(p.names[ITEM]), zipf_exponent)[:num_head])
    return INTERACTION_SCALE * query @ p.item_latent.T + PRIOR_WEIGHT * log_prior


def _retrieval_labels(rng: np.random.Generator, p: PlantedParams, ranks: Dict[str, np.ndarray],
                      s: SyntheticSizes, chunk: int = 8192) -> np.ndarray:
    n = len(ranks[ITEM])
    labels = _zipf(rng, s.num_items, s.zipf_exponent, n)
    signal = rng.random(n) < RETRIEVAL_SIGNAL_PROB
    for start in range(0, n, chunk):  # Gumbel-max sampling, chunked to bound memory
        rows = slice(start, min(start + chunk, n))
        logits = retrieval_logits(p, ranks[ITEM][rows], ranks[REGION][rows], s.zipf_exponent)
        sampled = np.argmax(logits + rng.gumbel(size=logits.shape), axis=1)
        labels[rows] = np.where(signal[rows], sampled, labels[rows])
    return labels


def _history_cells(item_names: np.ndarray, history: np.ndarray) -> np.ndarray:
    names = item_names[np.maximum(history, 0)].tolist()
    lengths = (history >= 0).sum(axis=1).tolist()
    return np.array([SEPARATOR.join(row[:k]) for row, k in zip(names, lengths)], dtype=object)


def _write_csv(path: str, columns: Dict[str, np.ndarray], order: Sequence[str]) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    cells = [np.asarray(columns[name]).astype(str).tolist() for name in order]
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write(",".join(order) + "\n")
        f.writelines(",".join(row) + "\n" for row in zip(*cells))


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m pipelines.data.synthetic",
        description="Write a deterministic synthetic recommendation dataset: "
                    "OUT/data/data.csv, OUT/schema/schema.pbtxt, OUT/truth.json.")
    parser.add_argument("--task", choices=TASKS, default="ranking")
    parser.add_argument("--num-examples", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out-dir", help="output folder (required unless --write-schema)")
    parser.add_argument("--size", choices=sorted(PRESETS), default="small",
                        help="cardinality preset; the flags below override single fields")
    for field in dataclasses.fields(SyntheticSizes):
        parser.add_argument("--" + field.name.replace("_", "-"), type=type(field.default),
                            default=None, help=f"(preset small: {field.default})")
    parser.add_argument("--write-schema", metavar="PATH",
                        help="only write the task's schema.pbtxt to PATH")
    args = parser.parse_args(argv)
    if not args.write_schema and not args.out_dir:
        parser.error("--out-dir is required")
    return args


def main(argv: Optional[Sequence[str]] = None) -> None:
    """CLI entry point."""
    args = _parse_args(argv)
    if args.write_schema:
        print(write_schema(args.task, args.write_schema))
        return
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(SyntheticSizes)
                 if getattr(args, f.name) is not None}
    sizes = dataclasses.replace(PRESETS[args.size], **overrides)
    csv_path, schema_path, config = generate(args.task, args.num_examples, args.seed,
                                             args.out_dir, sizes)
    print(json.dumps({"csv": csv_path, "schema": schema_path,
                      "dataset": config.to_dict()}, indent=1))


if __name__ == "__main__":
    main()
