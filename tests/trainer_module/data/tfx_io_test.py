"""tfx_io.input_fn on hand-written gzipped TFRecords; strategy names."""
import os

import numpy as np
import pytest
import tensorflow as tf

from trainer_module.data import tfx_io
from trainer_module.data.features import LABEL_KEY, DatasetConfig, FeatureConfig

SPEC = {"item": tf.io.FixedLenFeature([1], tf.int64),
        "tags": tf.io.FixedLenFeature([3], tf.int64),
        "extra": tf.io.FixedLenFeature([1], tf.int64),
        LABEL_KEY: tf.io.FixedLenFeature([], tf.int64)}


def _dataset(task="ranking"):
    return DatasetConfig(task=task, label="y", features=[
        FeatureConfig("item"), FeatureConfig("tags", multivalent=True, max_len=3)])


def _write(path, n, label_fn):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with tf.io.TFRecordWriter(path, options="GZIP") as w:
        for i in range(n):
            feats = {"item": [i], "tags": [i, i + 1, -1], "extra": [7], LABEL_KEY: [label_fn(i)]}
            ex = tf.train.Example(features=tf.train.Features(feature={
                k: tf.train.Feature(int64_list=tf.train.Int64List(value=v)) for k, v in feats.items()}))
            w.write(ex.SerializeToString())


def test_batches_have_contract_shapes_and_only_config_features(tmp_path):
    _write(str(tmp_path / "Split-train" / "a.gz"), 10, lambda i: i % 2)
    _write(str(tmp_path / "Split-train" / "b.gz"), 10, lambda i: i % 2)
    ds = tfx_io.input_fn(str(tmp_path / "Split-train" / "*"), SPEC, _dataset(), batch_size=8, seed=1)
    feats, labels = next(iter(ds))
    assert set(feats) == {"item", "tags"}
    assert feats["item"].shape == (8, 1) and feats["tags"].shape == (8, 3)
    assert feats["item"].dtype == tf.int64 and labels.shape == (8,) and labels.dtype == tf.int64
    assert len(list(ds.take(5))) == 5  # repeats


def test_no_repeat_drops_partial_batch_and_unknown_retrieval_labels(tmp_path):
    path = str(tmp_path / "x.gz")
    _write(path, 10, lambda i: -1 if i % 2 else i)
    ranking = list(tfx_io.input_fn(path, SPEC, _dataset(), 4, shuffle=False, repeat=False))
    assert len(ranking) == 2
    retrieval = list(tfx_io.input_fn(path, SPEC, _dataset("retrieval"), 2, shuffle=False,
                                     repeat=False))
    labels = np.concatenate([y.numpy() for _, y in retrieval])
    assert sorted(labels) == [0, 2, 4, 6]  # 5 valid labels -> 2 full batches of 2


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="no transformed example files"):
        tfx_io.input_fn(str(tmp_path / "none*"), SPEC, _dataset(), 4)
    with pytest.raises(ValueError, match=r"lack feature\(s\) \['tags'\]"):
        tfx_io.feature_spec({"item": SPEC["item"], LABEL_KEY: SPEC[LABEL_KEY]}, _dataset())
    with pytest.raises(ValueError, match="strategy must be one of"):
        tfx_io.make_strategy("horovod")
    assert tfx_io.make_strategy("default") is tf.distribute.get_strategy()


def test_count_examples_counts_every_record_of_every_file(tmp_path):
    _write(str(tmp_path / "s" / "a.gz"), 7, lambda i: 0)
    _write(str(tmp_path / "s" / "b.gz"), 5, lambda i: 1)
    assert tfx_io.count_examples(str(tmp_path / "s" / "*")) == 12
