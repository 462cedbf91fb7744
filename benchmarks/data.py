"""Benchmark data: raw splits -> the project's real TF Transform -> in-memory id arrays.

* ``movielens_frames(task)``: ML-100K via ``fetch_movielens`` (RecBole wheel, cached
  in ``data_cache/``), written to split CSVs by the project's loader
  (``prepare_movielens``) under ``data_cache/bench/`` (MovieLens data never leaves
  ``data_cache/``) and read back as strings.
* ``synthetic_frames(task, n)``: ``pipelines.data.synthetic`` columns, split 70/15/15.
* ``transform(frames, dataset, work_dir)``: runs ``preprocessing_fn`` with
  ``tft_beam.AnalyzeDataset`` (Beam DirectRunner) on the train split, applies the
  transform graph to every split and returns a ``TaskData`` with the
  frequency-ordered ids, vocabulary sizes (read from the transform output) and the
  Transform time next to a single-process pandas ``value_counts`` over the same
  columns (the lower bound).
"""
from __future__ import annotations

import dataclasses
import os
import shutil
import time
from typing import Dict, Optional, Tuple

import numpy as np
import pandas as pd
import tensorflow as tf

from trainer_module.data import preprocessing
from trainer_module.data.features import LABEL_KEY, DatasetConfig

SPLITS = ("train", "eval", "test")
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
Arrays = Tuple[Dict[str, np.ndarray], np.ndarray]


@dataclasses.dataclass
class TaskData:
    """One benchmark task, transformed: ``splits[name] = (features, labels)`` numpy arrays."""

    name: str
    dataset: DatasetConfig
    vocab_sizes: Dict[str, int]
    num_labels: Optional[int]
    splits: Dict[str, Arrays]
    transform_s: float = 0.0
    pandas_s: float = 0.0
    transform_rows: int = 0

    @property
    def task(self) -> str:
        return self.dataset.task

    def size(self, split: str) -> int:
        return int(len(self.splits[split][1]))

    def full_floats(self, dim: int = 32) -> int:
        """Embedding floats of the full-vocabulary model of width ``dim``."""
        return dim * sum(self.vocab_sizes.values())


def movielens_source(cache_dir: Optional[str] = None) -> str:
    """The cached ML-100K files (fetched from the RecBole wheel when missing)."""
    from pipelines.data.fetch_movielens import fetch_ml100k
    return fetch_ml100k(cache_dir or os.path.join(REPO_ROOT, "data_cache"))


def movielens_frames(task: str, cache_dir: Optional[str] = None
                     ) -> Tuple[Dict[str, pd.DataFrame], DatasetConfig]:
    """ML-100K ``task`` splits as string frames (CSV cells), written by the project's loader."""
    from pipelines.data.movielens import MovieLensConfig, prepare_movielens
    cache = cache_dir or os.path.join(REPO_ROOT, "data_cache")
    source = movielens_source(cache)
    out = os.path.join(cache, "bench", f"ml100k_{task}")
    dataset = prepare_movielens(source, out, config=MovieLensConfig(task=task))
    frames = {s: pd.read_csv(os.path.join(out, s, "data.csv"), dtype=str, keep_default_na=False)
              for s in SPLITS}
    return frames, dataset


def synthetic_frames(task: str, num_examples: int, seed: int = 0
                     ) -> Tuple[Dict[str, pd.DataFrame], DatasetConfig]:
    """Synthetic columns (``pipelines.data.synthetic``), random 70/15/15 split."""
    from pipelines.data import synthetic
    data = synthetic.generate_columns(task, num_examples, seed)
    frame = pd.DataFrame({k: np.asarray(v).astype(str) for k, v in data.columns.items()})
    order = np.random.default_rng(seed).permutation(len(frame))
    cut = [int(0.7 * len(frame)), int(0.85 * len(frame))]
    parts = np.split(order, cut)
    return {s: frame.iloc[p].reset_index(drop=True) for s, p in zip(SPLITS, parts)}, data.dataset


def raw_spec(dataset: DatasetConfig) -> Dict[str, tf.io.FixedLenFeature]:
    """Raw feature spec: one string per feature (CSV cell); int label for ranking."""
    spec = {n: tf.io.FixedLenFeature([], tf.string) for n in dataset.names}
    label_type = tf.int64 if dataset.task == "ranking" else tf.string
    spec[dataset.label] = tf.io.FixedLenFeature([], label_type)
    return spec


def _raw_columns(frame: pd.DataFrame, dataset: DatasetConfig) -> Dict[str, np.ndarray]:
    cols = {n: frame[n].astype(str).to_numpy(dtype=object) for n in dataset.names}
    label = frame[dataset.label]
    cols[dataset.label] = (pd.to_numeric(label).astype(np.int64).to_numpy()
                           if dataset.task == "ranking" else label.astype(str).to_numpy(dtype=object))
    return cols


def analyze(frame: pd.DataFrame, dataset: DatasetConfig, out_dir: str) -> float:
    """Runs ``preprocessing_fn`` analysis with tft_beam (DirectRunner); returns wall seconds."""
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata
    cols = _raw_columns(frame, dataset)
    names = list(cols)
    rows = [dict(zip(names, vals)) for vals in zip(*(cols[n] for n in names))]
    metadata = dataset_metadata.DatasetMetadata.from_feature_spec(raw_spec(dataset))
    config = {"dataset": dataset.to_json()}
    start = time.perf_counter()
    with tft_beam.Context(temp_dir=os.path.join(out_dir, "tmp"), force_tf_compat_v1=False):
        transform_fn = ((rows, metadata)
                        | tft_beam.AnalyzeDataset(lambda x: preprocessing.preprocessing_fn(x, config)))
        _ = transform_fn | tft_beam.WriteTransformFn(os.path.join(out_dir, "transform_graph"))
    return time.perf_counter() - start


def pandas_value_counts(frame: pd.DataFrame, dataset: DatasetConfig) -> Tuple[float, Dict[str, int]]:
    """Single-process lower bound: ``value_counts`` of the same columns; (seconds, sizes)."""
    start = time.perf_counter()
    sizes = {}
    cols = [(f.name, f.separator if f.multivalent else None) for f in dataset.features]
    if dataset.task == "retrieval":
        cols.append((dataset.label, None))
    for name, sep in cols:
        col = frame[name].astype(str)
        if sep is not None:
            col = col.str.split(sep, regex=False).explode().str.strip()
        col = col[col.str.len() > 0]
        sizes[name] = int(len(col.value_counts()))
    return time.perf_counter() - start, sizes


def _sparse_column(values: np.ndarray) -> tf.SparseTensor:
    """``[n, 1]`` sparse column, empty strings missing (how a TFXIO source feeds CSV cells)."""
    keep = (np.flatnonzero(values != "") if values.dtype == object
            else np.arange(len(values)))
    indices = np.stack([keep, np.zeros_like(keep)], axis=1).astype(np.int64)
    return tf.SparseTensor(indices, tf.constant(values[keep]), [len(values), 1])


def apply_transform(tft_out, frame: pd.DataFrame, dataset: DatasetConfig,
                    chunk: int = 20_000, sparse_inputs: bool = False) -> Arrays:
    """Transformed ``(features, labels)`` of ``frame`` (retrieval drops unknown labels).

    ``sparse_inputs``: feed every column as a ``[n, 1]`` SparseTensor, for a transform graph
    analysed from a TFXIO source whose schema declares no shapes (``benchmarks.scale.data``).
    """
    cols = _raw_columns(frame, dataset)
    parts = []
    for lo in range(0, len(frame), chunk):
        raw = {k: (_sparse_column(v[lo:lo + chunk]) if sparse_inputs else tf.constant(v[lo:lo + chunk]))
               for k, v in cols.items()}
        out = tft_out.transform_raw_features(raw, drop_unused_features=True)
        parts.append({k: np.asarray(v.numpy(), np.int64) for k, v in out.items()})
    merged = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    labels = merged.pop(LABEL_KEY).reshape(-1)
    feats = {n: merged[n].reshape(len(labels), -1) for n in dataset.names}
    if dataset.task == "retrieval":
        keep = labels >= 0
        feats, labels = {k: v[keep] for k, v in feats.items()}, labels[keep]
    return feats, labels


def transform(name: str, frames: Dict[str, pd.DataFrame], dataset: DatasetConfig,
              work_dir: str) -> TaskData:
    """Real Transform on ``frames["train"]``, applied to every split, timed vs pandas."""
    import tensorflow_transform as tft
    out_dir = os.path.join(work_dir, name)
    shutil.rmtree(out_dir, ignore_errors=True)
    transform_s = analyze(frames["train"], dataset, out_dir)
    pandas_s, pandas_sizes = pandas_value_counts(frames["train"], dataset)
    tft_out = tft.TFTransformOutput(os.path.join(out_dir, "transform_graph"))
    vocab = preprocessing.vocab_sizes_from_transform_output(tft_out, dataset)
    for n, v in vocab.items():  # both count the same distinct values
        if v != pandas_sizes[n]:
            raise RuntimeError(f"{name}: Transform vocabulary of {n!r} has {v} items, "
                               f"pandas counts {pandas_sizes[n]}")
    splits = {s: apply_transform(tft_out, frames[s], dataset) for s in SPLITS}
    return TaskData(name=name, dataset=dataset, vocab_sizes=vocab,
                    num_labels=preprocessing.num_labels(tft_out, dataset), splits=splits,
                    transform_s=transform_s, pandas_s=pandas_s,
                    transform_rows=len(frames["train"]))


def tf_dataset(arrays: Arrays, batch_size: int, seed: int, repeat: bool = True,
               shuffle: bool = True) -> tf.data.Dataset:
    """Batched ``(features, labels)`` from in-memory arrays.

    Works on whole batches, not examples: each epoch is one random permutation of the
    row indices (seeded by ``(seed, epoch)``; several when one batch needs more rows than
    the split has), cut into full batches that are gathered from the arrays. An example-level ``shuffle().batch()`` costs ~25 ms per 2,000-row
    batch on 2 CPU cores, more than a search step. ``repeat=False`` gives one ordered
    pass with the last partial batch kept (evaluation). tf.data's autotuning is off: with it,
    deleting a long-lived iterator of this pipeline (a search's, a final model's) stalled for
    8-11 s in about one deletion in three, inside the timed runs; without it the steps run
    as fast and the batches are the same.
    """
    feats, labels = arrays
    n = len(labels)
    columns = ({k: tf.constant(v) for k, v in feats.items()}, tf.constant(labels))
    if repeat:
        laps = -(-batch_size // n)  # permutations per epoch: a batch may need more than n rows
        full = laps * n // batch_size * batch_size

        def epoch_batches(epoch):
            if shuffle:
                noise = tf.random.stateless_uniform([laps, n], tf.stack([tf.constant(seed, tf.int64), epoch]))
                rows = tf.reshape(tf.argsort(noise, axis=1), [-1])
            else:
                rows = tf.tile(tf.range(n), [laps])
            return tf.data.Dataset.from_tensor_slices(tf.reshape(rows[:full], [-1, batch_size]))

        index = tf.data.Dataset.range(2 ** 62).flat_map(epoch_batches)
    else:
        index = tf.data.Dataset.range(n).batch(batch_size)
    take = lambda rows: tf.nest.map_structure(lambda c: tf.gather(c, rows), columns)  # noqa: E731
    options = tf.data.Options()
    options.autotune.enabled = False  # see the docstring: deleting an iterator could stall
    return (index.map(take, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)
            .with_options(options))
