"""Large synthetic ranking data, streamed to sharded CSV files (millions of ids, any row count).

Unlike ``synthetic.py`` (in-memory columns, a planted head-only signal), this generator
writes rows chunk by chunk, so memory holds the per-id parameters (``O(ids)``) and one
chunk of rows, never the dataset. Every id carries signal: each user and each item has a
latent vector and a bias, so what a model can learn about an id grows with how often it
appears in the data, as in real logs, and no rule singles out the head.

Columns (ids are Zipf-distributed over popularity ranks; a seeded permutation maps ranks to
id strings, so ids are not sorted by frequency):

* ``user_id`` (``u...``), ``item_id`` (``i...``): the large vocabularies.
* ``history`` (multi-valued, ``|``-joined): 0..``history_len`` items the user saw before,
  drawn from the item popularity law; empty for some rows.
* ``item_category`` (``c...``): a fixed function of the item.
* ``region`` (``r...``): the user's home region most of the time.
* ``device`` (``d...``): a few values, uniformly drawn.
* ``clicked`` (label 0/1) ~ Bernoulli(sigmoid(``INTERACTION_SCALE`` x <user latent +
  mean history latent + region latent, item latent> + user, item, category and device
  biases + ``BASE_LOGIT``)).

Rows are cut into chunks of ``chunk_rows``; chunk ``k`` is drawn from its own generator keyed
by ``(seed, k)``, and shard ``s`` holds a contiguous run of chunks. The rows therefore depend
on the seed, the row count, the sizes and ``chunk_rows`` only, not on the number of shards
or on which process writes a shard: ``--shards START:END`` lets many processes (or machines)
write disjoint shards of one dataset.

Layout::

    out_dir/data/part-00000-of-00016.csv   # CsvExampleGen input_base = out_dir/data
    out_dir/schema/schema.pbtxt
    out_dir/manifest.json                  # sizes, seed, rows, shards

With the default Zipf exponent 0.8 the top 1% of the 1M users hold about 36% of the rows; 2M
rows name about 580,000 distinct users and 4M rows about 790,000 (a larger exponent concentrates
the rows on fewer ids).

Local benchmark (a few million rows, 1M users / 300k items)::

    python -m benchmarks.scale.synthetic_stream --out-dir /tmp/scale --rows 4000000 --num-shards 16

Cluster run (100M+ rows): the same command with ``--rows 200000000 --num-shards 2000``,
split over N workers, worker ``w`` passing ``--shards w*2000/N:(w+1)*2000/N`` and the same
``--out-dir`` on shared storage (a GCS path works through ``tf.io.gfile``); then point
``CsvExampleGen`` (on Dataflow) at ``out_dir/data``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
from typing import Dict, Iterator, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from trainer_module.data.features import DatasetConfig, FeatureConfig

USER, ITEM, HISTORY, CATEGORY, REGION, DEVICE = (
    "user_id", "item_id", "history", "item_category", "region", "device")
FEATURES = (USER, ITEM, HISTORY, CATEGORY, REGION, DEVICE)
LABEL = "clicked"
SEPARATOR = "|"
SCHEMA_NAME, MANIFEST_NAME = "schema.pbtxt", "manifest.json"
HOME_REGION_PROB = 0.8
INTERACTION_SCALE = 2.0
BASE_LOGIT = -0.5
HISTORY_PRESENCE = 0.5  # schema: min fraction of rows with a non-empty history


@dataclasses.dataclass(frozen=True)
class StreamSizes:
    """Cardinalities, history length and shape of the signal."""

    num_users: int = 1_000_000
    num_items: int = 300_000
    num_categories: int = 1_000
    num_regions: int = 500
    num_devices: int = 8
    history_len: int = 10
    latent_dim: int = 16
    zipf_exponent: float = 0.8

    def __post_init__(self):
        for field in dataclasses.fields(self):
            if getattr(self, field.name) <= 0:
                raise ValueError(f"{field.name} must be positive, got {getattr(self, field.name)}")


@dataclasses.dataclass(frozen=True)
class Params:
    """Per-id parameters (``O(ids)`` memory), indexed by popularity rank."""

    names: Dict[str, np.ndarray]   # feature -> rank -> id number (history uses item ids)
    user_cdf: np.ndarray
    item_cdf: np.ndarray
    item_category: np.ndarray
    user_region: np.ndarray
    user_latent: np.ndarray
    item_latent: np.ndarray
    region_latent: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray
    category_bias: np.ndarray
    device_bias: np.ndarray


def dataset_config(sizes: Optional[StreamSizes] = None) -> DatasetConfig:
    """The ``DatasetConfig`` of the streamed columns."""
    sizes = sizes or StreamSizes()
    feats = [FeatureConfig(USER), FeatureConfig(ITEM),
             FeatureConfig(HISTORY, multivalent=True, max_len=sizes.history_len,
                           separator=SEPARATOR, combiner="mean"),
             FeatureConfig(CATEGORY), FeatureConfig(REGION), FeatureConfig(DEVICE)]
    return DatasetConfig(task="ranking", label=LABEL, features=tuple(feats))


def make_schema() -> schema_pb2.Schema:
    """TFMD schema of the streamed CSV (independent of sizes, rows and seed)."""
    schema = schema_pb2.Schema()
    for name in FEATURES + (LABEL,):
        feature = schema.feature.add(name=name, type=schema_pb2.INT if name == LABEL
                                     else schema_pb2.BYTES)
        feature.presence.min_fraction = HISTORY_PRESENCE if name == HISTORY else 1.0
        feature.presence.min_count = 1
        feature.value_count.min = 0 if name == HISTORY else 1
        feature.value_count.max = 1
    label = schema.feature[-1]
    label.int_domain.min, label.int_domain.max, label.int_domain.is_categorical = 0, 1, True
    return schema


def _cdf(n: int, exponent: float) -> np.ndarray:
    weights = np.arange(1, n + 1, dtype=np.float64) ** -exponent
    cdf = np.cumsum(weights)
    return cdf / cdf[-1]


def _draw(rng: np.random.Generator, cdf: np.ndarray, size) -> np.ndarray:
    """Zipf ranks by inverse CDF (one binary search per draw, no per-draw table)."""
    return np.minimum(np.searchsorted(cdf, rng.random(size)), len(cdf) - 1)


def make_params(sizes: StreamSizes, seed: int) -> Params:
    """The per-id parameters of ``seed`` (the same for every chunk and shard)."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 0]))
    s, k = sizes, sizes.latent_dim
    scale = k ** -0.25  # <a, b> of two latents has unit variance
    latent = lambda n: rng.normal(0.0, scale, (n, k)).astype(np.float32)  # noqa: E731
    return Params(
        names={USER: rng.permutation(s.num_users), ITEM: rng.permutation(s.num_items),
               CATEGORY: rng.permutation(s.num_categories),
               REGION: rng.permutation(s.num_regions), DEVICE: rng.permutation(s.num_devices)},
        user_cdf=_cdf(s.num_users, s.zipf_exponent), item_cdf=_cdf(s.num_items, s.zipf_exponent),
        item_category=_draw(rng, _cdf(s.num_categories, s.zipf_exponent), s.num_items),
        user_region=_draw(rng, _cdf(s.num_regions, s.zipf_exponent), s.num_users),
        user_latent=latent(s.num_users), item_latent=latent(s.num_items),
        region_latent=0.5 * latent(s.num_regions),
        user_bias=rng.normal(0.0, 0.3, s.num_users).astype(np.float32),
        item_bias=rng.normal(0.0, 0.3, s.num_items).astype(np.float32),
        category_bias=rng.normal(0.0, 0.3, s.num_categories).astype(np.float32),
        device_bias=rng.normal(0.0, 0.3, s.num_devices).astype(np.float32))


def chunk_ranks(p: Params, sizes: StreamSizes, seed: int, chunk: int,
                n: int) -> Tuple[Dict[str, np.ndarray], np.ndarray]:
    """Popularity ranks of chunk ``chunk`` (``n`` rows), history ``[n, L]`` (-1 = none), labels."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, 1, chunk]))
    users, items = _draw(rng, p.user_cdf, n), _draw(rng, p.item_cdf, n)
    history = _draw(rng, p.item_cdf, (n, sizes.history_len))
    lengths = rng.integers(0, sizes.history_len + 1, n)
    history[np.arange(sizes.history_len)[None, :] >= lengths[:, None]] = -1
    away = rng.integers(0, sizes.num_regions, n)
    regions = np.where(rng.random(n) < HOME_REGION_PROB, p.user_region[users], away)
    devices = rng.integers(0, sizes.num_devices, n)
    seen = history >= 0
    hist_latent = (p.item_latent[np.maximum(history, 0)] * seen[..., None]).sum(axis=1)
    hist_latent /= np.maximum(seen.sum(axis=1), 1)[:, None]
    query = p.user_latent[users] + hist_latent + p.region_latent[regions]
    logit = (INTERACTION_SCALE * np.sum(query * p.item_latent[items], axis=1)
             + p.user_bias[users] + p.item_bias[items] + p.category_bias[p.item_category[items]]
             + p.device_bias[devices] + BASE_LOGIT)
    labels = (rng.random(n) < 1.0 / (1.0 + np.exp(-logit))).astype(np.int64)
    ranks = {USER: users, ITEM: items, CATEGORY: p.item_category[items], REGION: regions,
             DEVICE: devices}
    return ranks, history, labels


def chunk_lines(p: Params, sizes: StreamSizes, seed: int, chunk: int, n: int) -> Iterator[str]:
    """The CSV lines of chunk ``chunk``."""
    ranks, history, labels = chunk_ranks(p, sizes, seed, chunk, n)
    prefix = {USER: "u", ITEM: "i", CATEGORY: "c", REGION: "r", DEVICE: "d"}
    cols = {name: [prefix[name] + str(i) for i in p.names[name][ranks[name]].tolist()]
            for name in prefix}
    names = p.names[ITEM][np.maximum(history, 0)].tolist()
    lengths = (history >= 0).sum(axis=1).tolist()
    cols[HISTORY] = [SEPARATOR.join("i" + str(i) for i in row[:k]) for row, k in zip(names, lengths)]
    cols[LABEL] = [str(v) for v in labels.tolist()]
    for row in zip(*(cols[name] for name in FEATURES + (LABEL,))):
        yield ",".join(row) + "\n"


def shard_path(out_dir: str, shard: int, num_shards: int) -> str:
    return os.path.join(out_dir, "data", f"part-{shard:05d}-of-{num_shards:05d}.csv")


def write(out_dir: str, rows: int, seed: int = 0, num_shards: int = 1,
          sizes: Optional[StreamSizes] = None, chunk_rows: int = 100_000,
          shards: Optional[Tuple[int, int]] = None) -> Dict:
    """Writes shards ``shards`` (default: all) of a ``rows``-row dataset; returns the manifest.

    Refuses to overwrite an existing shard file, or a manifest of other data. The schema and
    the manifest are written first (the same bytes from every process of one dataset).
    """
    sizes = sizes or StreamSizes()
    if rows < 1 or num_shards < 1 or chunk_rows < 1:
        raise ValueError(f"rows, num_shards and chunk_rows must be >= 1, got {rows}, "
                         f"{num_shards}, {chunk_rows}")
    start, end = shards or (0, num_shards)
    if not 0 <= start < end <= num_shards:
        raise ValueError(f"--shards {start}:{end} is not a range within 0:{num_shards}")
    num_chunks = -(-rows // chunk_rows)
    per_shard = -(-num_chunks // num_shards)
    paths = [shard_path(out_dir, s, num_shards) for s in range(start, end)]
    existing = [path for path in paths if tf.io.gfile.exists(path)]
    if existing:
        raise FileExistsError(f"{existing[0]} exists; choose an empty --out-dir")
    manifest = {"rows": rows, "seed": seed, "num_shards": num_shards, "chunk_rows": chunk_rows,
                "sizes": dataclasses.asdict(sizes), "label": LABEL,
                "dataset": dataset_config(sizes).to_dict()}
    _write_once(os.path.join(out_dir, MANIFEST_NAME), json.dumps(manifest, indent=1))
    _write_once(os.path.join(out_dir, "schema", SCHEMA_NAME),
                text_format.MessageToString(make_schema()))
    params = make_params(sizes, seed)
    tf.io.gfile.makedirs(os.path.dirname(paths[0]))
    header = ",".join(FEATURES + (LABEL,)) + "\n"
    for shard, path in zip(range(start, end), paths):
        with tf.io.gfile.GFile(path + ".tmp", "w") as f:  # renamed when complete
            f.write(header)
            for chunk in range(shard * per_shard, min((shard + 1) * per_shard, num_chunks)):
                n = min(chunk_rows, rows - chunk * chunk_rows)
                f.write("".join(chunk_lines(params, sizes, seed, chunk, n)))
        tf.io.gfile.rename(path + ".tmp", path)
    return manifest


def _write_once(path: str, text: str) -> None:
    """Writes ``text`` to ``path``; an existing file must already hold exactly ``text``."""
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as f:
            if f.read() != text:
                raise FileExistsError(f"{path} exists and describes other data; choose an "
                                      f"empty --out-dir")
        return
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.gfile.GFile(path, "w") as f:
        f.write(text)


def _parse_args(argv: Optional[Sequence[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.scale.synthetic_stream",
                                description=__doc__.split("\n\n")[0])
    p.add_argument("--out-dir", required=True)
    p.add_argument("--rows", type=int, required=True, help="rows in the whole dataset")
    p.add_argument("--num-shards", type=int, default=1, help="CSV files the rows are cut into")
    p.add_argument("--shards", default=None, metavar="START:END",
                   help="write only these shards (default: all), e.g. for one worker of many")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--chunk-rows", type=int, default=100_000,
                   help="rows generated at a time (bounds memory; part of the data's identity)")
    for field in dataclasses.fields(StreamSizes):
        p.add_argument("--" + field.name.replace("_", "-"), type=type(field.default),
                       default=field.default)
    return p.parse_args(argv)


def main(argv: Optional[Sequence[str]] = None) -> None:
    """CLI entry point."""
    args = _parse_args(argv)
    sizes = StreamSizes(**{f.name: getattr(args, f.name) for f in dataclasses.fields(StreamSizes)})
    shards = tuple(int(x) for x in args.shards.split(":")) if args.shards else None
    manifest = write(args.out_dir, args.rows, args.seed, args.num_shards, sizes, args.chunk_rows,
                     shards)
    print(json.dumps({k: manifest[k] for k in ("rows", "num_shards", "seed")}))


if __name__ == "__main__":
    main()
