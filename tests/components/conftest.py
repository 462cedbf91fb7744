"""Tiny TFX-shaped data for the component tests: raw + transformed examples, transform graph.

``tiny_data(task)`` (task "ranking", "retrieval", or "retrieval_history": retrieval with a
``history`` bag of items, the label's id space) runs the project's ``preprocessing_fn``
through tft_beam on a few hundred synthetic rows (analysis only; the transform itself runs eagerly)
and lays the outputs out the way TFX's Transform does:
``<root>/transformed_examples/Split-{train,eval}/*.gz``, ``<root>/transform_graph``
and raw examples in ``<root>/raw_examples/Split-eval/*.gz``.
"""
import functools
import os
import random
import tempfile
import types as pytypes

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

from trainer_module.data.features import DatasetConfig, FeatureConfig  # noqa: E402

USERS = [f"u{i}" for i in range(12)]
ITEMS = [f"i{i}" for i in range(20)]
GENRES = ["action", "comedy", "drama", "horror", "scifi"]
RAW_SPEC = {
    "user": tf.io.FixedLenFeature([], tf.string),
    "item": tf.io.FixedLenFeature([], tf.string),
    "genres": tf.io.FixedLenFeature([], tf.string),
    "clicked": tf.io.FixedLenFeature([], tf.int64),
    "next_item": tf.io.FixedLenFeature([], tf.string),
}
HISTORY_SPEC = {**RAW_SPEC, "history": tf.io.FixedLenFeature([], tf.string)}


def dataset_config(task: str) -> DatasetConfig:
    if task == "retrieval_history":
        return DatasetConfig(task="retrieval", label="next_item",
                             features=[FeatureConfig("user"), FeatureConfig("item"),
                                       FeatureConfig("history", multivalent=True, max_len=3)])
    return DatasetConfig(task=task, label="clicked" if task == "ranking" else "next_item",
                         features=[FeatureConfig("user"), FeatureConfig("item"),
                                   FeatureConfig("genres", multivalent=True, max_len=3)])


def raw_rows(n: int, seed: int):
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        u, i = rng.choice(USERS), rng.choice(ITEMS[: rng.choice([5, 20])])  # skewed item counts
        rows.append({"user": u, "item": i,
                     "genres": "|".join(rng.sample(GENRES, rng.randint(1, 3))),
                     "clicked": int((int(u[1:]) + int(i[1:])) % 3 == 0),
                     "next_item": ITEMS[(int(i[1:]) + 1) % len(ITEMS)]})
    return rows


def to_example(row) -> bytes:
    feats = {k: tf.train.Feature(int64_list=tf.train.Int64List(value=[v])) if isinstance(v, int)
             else tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()]))
             for k, v in row.items()}
    return tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString()


def _write_gz(path: str, records) -> None:
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path, options="GZIP") as w:
        for r in records:
            w.write(r)


def with_history(rows, seed: int):
    """``rows`` plus a ``history`` cell of 0-3 items (``|``-joined, empty for none)."""
    rng = random.Random(seed + 100)
    return [dict(r, history="|".join(rng.sample(ITEMS, rng.randint(0, 3)))) for r in rows]


def _analyze(rows, dataset: DatasetConfig, out_dir: str, raw_spec=RAW_SPEC) -> None:
    import tensorflow_transform.beam as tft_beam
    from tensorflow_transform.tf_metadata import dataset_metadata
    from trainer_module.data.preprocessing import preprocessing_fn

    metadata = dataset_metadata.DatasetMetadata.from_feature_spec(raw_spec)
    config = {"dataset": dataset.to_dict()}
    with tft_beam.Context(temp_dir=os.path.join(out_dir, "tmp"), force_tf_compat_v1=False):
        transform_fn = ((rows, metadata)
                        | tft_beam.AnalyzeDataset(functools.partial(preprocessing_fn,
                                                                  custom_config=config)))
        _ = transform_fn | tft_beam.WriteTransformFn(os.path.join(out_dir, "transform_graph"))
    # TFX's Transform also stores the raw metadata (the serving signature parses with it).
    from tensorflow_transform.tf_metadata import metadata_io
    metadata_io.write_metadata(metadata, os.path.join(out_dir, "transform_graph", "metadata"))


def build_tiny_data(root: str, task: str, n_train: int = 240, n_eval: int = 120):
    import tensorflow_transform as tft
    dataset = dataset_config(task)
    splits = {"train": raw_rows(n_train, 1), "eval": raw_rows(n_eval, 2)}
    raw_spec = RAW_SPEC
    if task == "retrieval_history":
        splits = {split: with_history(rows, seed) for seed, (split, rows) in enumerate(splits.items())}
        raw_spec = HISTORY_SPEC
    _analyze(splits["train"], dataset, root, raw_spec)
    tft_out = tft.TFTransformOutput(os.path.join(root, "transform_graph"))
    for split, rows in splits.items():
        serialized = [to_example(r) for r in rows]
        _write_gz(os.path.join(root, "raw_examples", f"Split-{split}", "data.gz"), serialized)
        raw = tf.io.parse_example(tf.constant(serialized), raw_spec)
        out = tft_out.transform_raw_features(raw, drop_unused_features=True)
        records = []
        for j in range(len(rows)):
            feats = {k: tf.train.Feature(int64_list=tf.train.Int64List(
                value=tf.reshape(v[j], [-1]).numpy().tolist())) for k, v in out.items()}
            records.append(tf.train.Example(features=tf.train.Features(feature=feats))
                           .SerializeToString())
        _write_gz(os.path.join(root, "transformed_examples", f"Split-{split}",
                               "transformed_examples-00000-of-00001.gz"), records)
    return pytypes.SimpleNamespace(
        root=root, dataset=dataset, task=task,
        transform_graph=os.path.join(root, "transform_graph"),
        transformed_examples=os.path.join(root, "transformed_examples"),
        raw_examples=os.path.join(root, "raw_examples"), eval_rows=splits["eval"],
        to_example=to_example)


@pytest.fixture(scope="session")
def tiny_data():
    """``tiny_data(task)`` -> namespace of paths (built once per task per session)."""
    cache = {}
    tmp = tempfile.TemporaryDirectory(prefix="nis_tiny_")

    def get(task: str):
        if task not in cache:
            cache[task] = build_tiny_data(os.path.join(tmp.name, task), task)
        return cache[task]

    yield get
    tmp.cleanup()


def examples_artifact(uri: str, splits=("train", "eval")):
    from tfx.types import artifact_utils, standard_artifacts
    a = standard_artifacts.Examples()
    a.uri = uri
    a.split_names = artifact_utils.encode_split_names(list(splits))
    return a


def transform_graph_artifact(uri: str):
    from tfx.types import standard_artifacts
    a = standard_artifacts.TransformGraph()
    a.uri = uri
    return a


@pytest.fixture
def make_artifacts():
    """Hand-built input artifacts: ``make_artifacts(data) -> (examples, transform_graph)``."""
    return lambda data: (examples_artifact(data.transformed_examples),
                         transform_graph_artifact(data.transform_graph))
