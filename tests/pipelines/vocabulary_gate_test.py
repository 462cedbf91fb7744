"""Tests of VocabularyGate's checks: budget feasibility (search and baseline) and the share of
retrieval labels unseen in training, on hand-written raw examples (no Beam run)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402

from pipelines import vocabulary_gate  # noqa: E402

SIZES = {"user": 40, "item": 100}


def test_feasible_budget_has_no_problem():
    assert vocabulary_gate.budget_problems(SIZES, 2_000, "ME", "", check_baseline=True) == []


def test_budget_of_one_float_is_refused_for_search_and_baseline():
    problems = vocabulary_gate.budget_problems(SIZES, 1, "ME", "", check_baseline=True)
    assert len(problems) == 2, problems
    assert problems[0].startswith("infeasible budget for the search (vocabulary sizes "
                                  "{'user': 40, 'item': 100})")
    assert "budget 1 floats is smaller than the cheapest" in problems[0]
    assert problems[1].startswith("infeasible budget for the BaselineTrainer")
    assert "refusing to train a degenerate model" in problems[1]
    # Without the baseline only the search's problem is reported.
    assert len(vocabulary_gate.budget_problems(SIZES, 1, "ME", "", check_baseline=False)) == 1


def _write_examples(path, labels):
    os.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path, options="GZIP") as w:
        for label in labels:
            value = ([] if label is None else [label.encode()])
            example = tf.train.Example(features=tf.train.Features(feature={
                "next": tf.train.Feature(bytes_list=tf.train.BytesList(value=value))}))
            w.write(example.SerializeToString())


def test_oov_label_share_counts_unseen_and_missing_labels(tmp_path):
    _write_examples(str(tmp_path / "Split-test" / "data.gz"), ["i1", " i2 ", "new", None])
    share = vocabulary_gate.oov_label_share(str(tmp_path), "test", "next", ["i1", "i2", "i3"])
    assert share == 0.5


def test_oov_over_threshold_or_total_is_a_problem():
    assert vocabulary_gate.oov_problems({"eval": 0.1, "test": 0.2}, "next", 50, 0.2) == []
    problems = vocabulary_gate.oov_problems({"eval": 0.1, "test": 0.3}, "next", 50, 0.2)
    assert problems == ["retrieval labels unseen in training: 30.0% of the test split's 'next' "
                        "values are not in the training label vocabulary (50 labels), over "
                        "max_oov_label_share 0.2; Recall@K cannot score them"]
    # 100% unseen leaves Recall@K nothing to score (NaN): refused whatever the threshold.
    assert len(vocabulary_gate.oov_problems({"test": 1.0}, "next", 50, 1.0)) == 1
