"""Runs the real preprocessing_fn through tensorflow_transform.beam on tiny in-memory data."""
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_transform.tf_metadata import dataset_metadata

from trainer_module.data import features
from trainer_module.data import preprocessing
from trainer_module.data.features import DatasetConfig, FeatureConfig

FEATURES = (
    FeatureConfig("age"),
    FeatureConfig("item", top_k=2),
    FeatureConfig("tag", frequency_threshold=2),
    FeatureConfig("genres", multivalent=True, max_len=3),
)
RETRIEVAL = DatasetConfig(task="retrieval", label="next", features=FEATURES)

RAW_SPEC = {
    "age": tf.io.VarLenFeature(tf.int64),       # numeric; schema without shape -> SparseTensor
    "item": tf.io.FixedLenFeature([], tf.string),
    "tag": tf.io.VarLenFeature(tf.string),
    "genres": tf.io.VarLenFeature(tf.string),
    "next": tf.io.VarLenFeature(tf.string),
}

# Counts: age 30 x4 > 20 x3 > 40 x2 > 10 x1 (+1 missing): lexical order != frequency order.
AGES = [[30]] * 4 + [[20]] * 3 + [[40]] * 2 + [[10], []]
ITEMS = ["i_y"] * 5 + ["i_x"] * 4 + ["i_w"] * 2                 # top_k=2 drops i_w
TAGS = [["t_q"]] * 6 + [["t_r"]] * 3 + [["t_s"], ["t_u"]]       # threshold 2 drops t_s, t_u
GENRES = [["g1|g2"], ["g1|g2|g3|g4"], [""], [], ["g1"], ["g2 | g1"], ["g1|g3"],
          ["g1"], ["g2"], ["g1|g2"], ["g3"]]                    # g1 7 > g2 5 > g3 3 (g4: 4th of
#                                                                 a max_len-3 row, never seen)
NEXT = [["n_b"]] * 6 + [["n_a"]] * 4 + [[]]


def _rows():
    return [{"age": a, "item": i, "tag": t, "genres": g, "next": n}
            for a, i, t, g, n in zip(AGES, ITEMS, TAGS, GENRES, NEXT)]


def _run(tmp_dir, custom_config, train_rows, eval_rows):
    """AnalyzeAndTransform on train, Transform on eval; returns (train, eval, TFTransformOutput)."""
    metadata = dataset_metadata.DatasetMetadata.from_feature_spec(RAW_SPEC)
    out_dir = os.path.join(tmp_dir, "transform_output")

    def fn(inputs):
        return preprocessing.preprocessing_fn(inputs, custom_config)

    with tft_beam.Context(temp_dir=os.path.join(tmp_dir, "tmp")):
        (train, _), transform_fn = ((train_rows, metadata)
                                    | tft_beam.AnalyzeAndTransformDataset(fn))
        evaluated, _ = (((eval_rows, metadata), transform_fn) | tft_beam.TransformDataset())
        _ = transform_fn | tft_beam.WriteTransformFn(out_dir)
    return train, evaluated, tft.TFTransformOutput(out_dir)


@pytest.fixture(scope="module")
def retrieval_run(tmp_path_factory):
    unseen = dict(_rows()[0], age=[99], genres=["g9|g1"], next=["n_new"], tag=["t_new"])
    return _run(str(tmp_path_factory.mktemp("retrieval")), {"dataset": RETRIEVAL.to_json()},
                _rows(), [unseen])


def _column(rows, name):
    return np.array([r[name] for r in rows])


def _vocab(output, name):
    path = output.vocabulary_file_by_name(name)
    with tf.io.gfile.GFile(path) as f:
        return [line.rstrip("\n") for line in f]


def test_frequency_ordered_vocabulary_of_numeric_column(retrieval_run):
    train, _, output = retrieval_run
    assert _vocab(output, features.vocab_filename("age")) == ["30", "20", "40", "10"]
    np.testing.assert_array_equal(_column(train, "age"),
                                  [[0]] * 4 + [[1]] * 3 + [[2]] * 2 + [[3], [-1]])  # missing -> -1


def test_top_k_and_frequency_threshold_make_items_oov(retrieval_run):
    train, _, output = retrieval_run
    np.testing.assert_array_equal(_column(train, "item")[:, 0], [0] * 5 + [1] * 4 + [-1] * 2)
    np.testing.assert_array_equal(_column(train, "tag")[:, 0], [0] * 6 + [1] * 3 + [-1] * 2)
    sizes = preprocessing.vocab_sizes_from_transform_output(output, RETRIEVAL.to_dict())
    assert sizes == {"age": 4, "item": 2, "tag": 2, "genres": 3}


def test_multivalued_split_pad_and_truncate(retrieval_run):
    train, _, output = retrieval_run
    # g4 occurs only past max_len 3 (row 2): the model never sees it, the vocabulary skips it
    assert _vocab(output, features.vocab_filename("genres")) == ["g1", "g2", "g3"]
    genres = _column(train, "genres")
    assert genres.shape == (11, 3) and genres.dtype == np.int64
    np.testing.assert_array_equal(genres[:6], [[0, 1, -1], [0, 1, 2],     # 4 items truncated to 3
                                               [-1, -1, -1], [-1, -1, -1],  # empty / missing cell
                                               [0, -1, -1], [1, 0, -1]])    # spaces stripped


def test_raw_tensor_forms_cast_to_string_rows():
    # Eager checks of the input normalisation every column goes through (keeps Beam runs small).
    to_rows = lambda x: preprocessing._to_ragged_strings(x).to_list()  # noqa: E731
    assert to_rows(tf.constant([0.5, 2.0, 25.0])) == [[b"0.5"], [b"2"], [b"25"]]  # shortest
    assert to_rows(tf.constant([[30], [7]], tf.int64)) == [[b"30"], [b"7"]]  # dense [B, 1]
    sparse = tf.SparseTensor([[0, 0], [2, 0]], ["a", "b"], dense_shape=[3, 1])
    assert to_rows(sparse) == [[b"a"], [], [b"b"]]  # missing cell -> empty row


def test_retrieval_label_and_unseen_values(retrieval_run):
    train, evaluated, output = retrieval_run
    assert _vocab(output, features.LABEL_VOCAB) == ["n_b", "n_a"]
    np.testing.assert_array_equal(_column(train, features.LABEL_KEY), [0] * 6 + [1] * 4 + [-1])
    assert preprocessing.num_labels(output, RETRIEVAL) == 2
    row = evaluated[0]
    assert row["age"].tolist() == [-1] and row["tag"].tolist() == [-1]
    assert row["genres"].tolist() == [-1, 0, -1] and int(row[features.LABEL_KEY]) == -1
    assert row["item"].tolist() == [0]  # known values still map


def test_transformed_feature_spec(retrieval_run):
    spec = retrieval_run[2].transformed_feature_spec()
    assert set(spec) == set(RETRIEVAL.names) | {features.LABEL_KEY}
    assert spec[features.LABEL_KEY] == tf.io.FixedLenFeature([], tf.int64)
    assert spec["age"] == tf.io.FixedLenFeature([1], tf.int64)
    assert spec["genres"] == tf.io.FixedLenFeature([3], tf.int64)


def test_ranking_label_is_binary_int():
    # The ranking label uses no analyzer, so it is checked eagerly (no Beam run).
    clicked = tf.SparseTensor([[0, 0], [1, 0], [2, 0], [3, 0]], tf.constant([1, 0, 0, 1], tf.int64),
                              dense_shape=[4, 1])
    label = preprocessing._label(clicked, "ranking", "clicked")
    assert label.dtype == tf.int64 and label.shape == [4]
    assert label.numpy().tolist() == [1, 0, 0, 1]
    as_text = preprocessing._label(tf.constant([" 1", "0", "1.0"]), "ranking", "clicked")
    assert as_text.numpy().tolist() == [1, 0, 1]


@pytest.mark.parametrize("raw", [
    tf.constant([1, 5], tf.int64), tf.constant([0, -1], tf.int64), tf.constant(["1", "yes"]),
    tf.constant(["1", ""]), tf.constant([0.5, 1.0]),
    tf.SparseTensor([[0, 0]], tf.constant([1], tf.int64), dense_shape=[2, 1]),  # row 1 missing
])
def test_ranking_label_is_never_coerced(raw):
    with pytest.raises(tf.errors.InvalidArgumentError, match="ranking label column 'clicked'"):
        preprocessing._label(raw, "ranking", "clicked").numpy()


def test_ranking_label_num_labels_is_none():
    ranking = DatasetConfig(task="ranking", label="clicked", features=FEATURES)
    assert preprocessing.num_labels("/nonexistent", ranking) is None  # never reads the output


@pytest.mark.parametrize("bad", [
    DatasetConfig(task="ranking", label="clicked", features=(FeatureConfig("absent_col"),)),
    DatasetConfig(task="ranking", label="no_such_label", features=(FeatureConfig("user"),)),
    DatasetConfig(task="retrieval", label="clicked", features=(FeatureConfig("user"),
                                                              FeatureConfig("absent_col"))),
])
def test_missing_column_raises_naming_it(bad):
    inputs = {"user": tf.constant(["a"]), "clicked": tf.constant([1], tf.int64)}
    missing = "no_such_label" if bad.label == "no_such_label" else "absent_col"
    with pytest.raises(ValueError, match=missing):
        preprocessing.preprocessing_fn(inputs, {"dataset": bad.to_json()})


def test_missing_dataset_config_raises():
    with pytest.raises(ValueError, match="dataset"):
        preprocessing.preprocessing_fn({"user": tf.constant(["a"])}, {})
