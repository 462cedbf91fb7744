"""Tests of rewards and cost loss (trainer_module/search/rewards.py)."""
import numpy as np
import pytest
import tensorflow as tf
from sklearn.metrics import roc_auc_score

from trainer_module.model.sampled_softmax import sample_negatives, sampled_logits
from trainer_module.search.rewards import CostModel, group_means, grouped_auc, sampled_recall_at_1
from trainer_module.search.space import SearchSpace


def test_grouped_auc_matches_sklearn_per_group():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, size=(6, 100))
    scores = np.round(rng.normal(size=(6, 100)) + labels * 0.7, 1)  # rounding creates ties
    labels[5] = 1  # a single-class group has no AUC
    auc, valid = grouped_auc(tf.constant(labels), tf.constant(scores, tf.float32))
    for g in range(5):
        assert auc.numpy()[g] == pytest.approx(roc_auc_score(labels[g], scores[g]), abs=1e-5)
    assert valid.numpy().tolist() == [True] * 5 + [False]


def test_sampled_recall_counts_only_strict_wins_and_skips_accidental_hits():
    hidden = tf.constant([[1.0, 0.0], [0.0, 1.0]])
    weights = tf.constant([[2.0, 0.0], [1.0, 0.0], [0.0, 3.0], [0.0, 0.5]])
    bias = tf.zeros([4])
    negatives = tf.constant([0, 1, 2], tf.int64)
    true, neg = sampled_logits(hidden, tf.constant([0, 3]), weights, bias, negatives)
    # example 0: label 0 is also negative 0 (masked), beats 1.0 -> hit; example 1: 0.5 < 3.0 -> miss
    assert sampled_recall_at_1(true, neg).numpy().tolist() == [1.0, 0.0]


def test_group_means_average_valid_examples_of_consecutive_groups():
    values = tf.constant([1.0, 0.0, 1.0, 1.0, 0.0, 1.0, 1.0])
    valid = tf.constant([True, True, False, True, False, False, True])
    means, ok = group_means(values, valid, 3, 3)
    # groups [1, 0, (1)], [1, (0), (1)], [1]: masked examples do not count; the last is partial
    np.testing.assert_allclose(means.numpy(), [0.5, 1.0, 1.0])
    np.testing.assert_array_equal(ok.numpy(), [True, True, True])
    means, ok = group_means(values, tf.constant([True] * 3 + [False] * 4), 3, 3)
    np.testing.assert_allclose(means.numpy(), [2 / 3, 0.0, 0.0])
    np.testing.assert_array_equal(ok.numpy(), [True, False, False])


def test_log_uniform_negatives_in_range_and_head_heavy():
    ids, log_count = sample_negatives(5000, 1000, tf.constant([1, 2], tf.int64))
    ids = ids.numpy()
    assert ids.min() >= 0 and ids.max() < 1000
    assert np.mean(ids < 100) > 0.5 and np.all(np.isfinite(log_count.numpy()))


def test_cost_model_matches_space_and_penalises_only_excess():
    equal = {"num_dim_chunks": 4}  # the paper's four 8-wide chunks
    space = SearchSpace.from_vocab_sizes({"a": 1000, "b": 100}, budget=10_000, mode="ME",
                                         overrides={"a": equal, "b": equal})
    cm = CostModel(space, extra_terms=[lambda lv: tf.cast(lv["a"][:, 0], tf.float32) * 0.01])
    actions = [[1, 5, 0, 2, 3, 3, 3, 0], [0, 0, 0, 0, 1, 0, 0, 0]]
    levels = {"a": tf.constant([a[:4] for a in actions]), "b": tf.constant([a[4:] for a in actions])}
    costs = cm.cost(levels).numpy()
    assert costs.tolist() == [space.cost(a) for a in actions]
    assert space.to_spec(actions[0]).projection_floats() > 0  # the exact count includes them
    paper = SearchSpace(space.features, space.budget, "ME", accounting="paper_tables_only")
    assert CostModel(paper).cost(levels).numpy().tolist() == [paper.cost(a) for a in actions]
    loss = cm.cost_loss(levels).numpy()
    assert loss[0] == pytest.approx(max(costs[0] / 10_000 - 1, 0) + 0.01)
    assert loss[1] == pytest.approx(0.0)
