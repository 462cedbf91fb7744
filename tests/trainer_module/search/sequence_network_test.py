"""Per-row decision orders and the one-scan unroll of the controller's networks."""
import numpy as np
import pytest
import tensorflow as tf

from trainer_module.search.controller import Controller
from trainer_module.search.sequence_network import SequenceNetwork, random_orders, unroll


def test_random_orders_shuffle_features_and_keep_each_features_decisions_together():
    groups = [3, 1, 2]                              # decisions 0-2 | 3 | 4-5
    orders = random_orders(groups, 500, tf.constant([1, 2], tf.int64)).numpy()
    assert orders.shape == (500, 6)
    blocks = {(0, 1, 2), (3,), (4, 5)}
    firsts = set()
    for row in orders:
        assert sorted(row) == list(range(6))
        split, k = [], 0
        while k < 6:  # cut the row into its features' blocks
            block = next(b for b in blocks if b[0] == row[k])
            assert tuple(row[k:k + len(block)]) == block
            split.append(block)
            k += len(block)
        firsts.add(split[0])
    assert firsts == blocks                         # every feature comes first in some rows


def test_per_row_order_equal_to_index_order_gives_the_same_pass():
    ctl = Controller([3, 4, 2], decision_costs=[[0.0, 0.3, 0.6], [0.0, 0.2, 0.4, 0.8], [0.0, 0.5]],
                     shuffle_groups=[2, 1])
    acts = ctl.uniform(8, tf.constant([1, 1], tf.int64))
    plain = unroll(ctl.policy, ctl.baseline, 8, actions=acts)
    per_row = unroll(ctl.policy, ctl.baseline, 8, actions=acts, order=tf.tile([[0, 1, 2]], [8, 1]))
    for a, b in zip(plain, per_row):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-6, atol=1e-6)


def test_baseline_value_depends_on_earlier_choices_but_not_on_the_current_one():
    costs = [[0.0, 0.3, 0.6], [0.0, 0.2, 0.4, 0.8], [0.0, 0.5]]
    ctl = Controller([3, 4, 2], decision_costs=costs)
    base = np.array([[1, 2, 1]] * 3)
    base[1, 1], base[2, 1] = 0, 3                    # rows differ only at decision 1
    values = ctl.rollout(3, actions=tf.constant(base, tf.int32)).values.numpy()
    # The estimate before decision 1 is made sees decisions 0 only: equal in all rows.
    np.testing.assert_array_equal(values[0, :2], values[1, :2])
    np.testing.assert_array_equal(values[0, :2], values[2, :2])
    # Before decision 2 it has seen decision 1: the rows differ.
    assert len({float(v) for v in values[:, 2]}) == 3


def _policy_with_one_strong_category(**kw):
    net = SequenceNetwork([31], units=4, head="policy", **kw)
    net.sample(1, tf.zeros([2], tf.int64))          # builds the variables
    net.head_bias.assign(tf.one_hot([0], 31) * 100.0 - 50.0)  # raw logits 50 vs -50
    return net


def test_logit_bound_caps_the_top_probability_and_zero_lifts_the_cap():
    probs = lambda net: tf.nn.softmax(net.step_outputs(tf.zeros([1, 1], tf.int32))[0])[0, 0]  # noqa
    capped = float(probs(_policy_with_one_strong_category()))             # default 2.5
    assert capped == pytest.approx(np.exp(5) / (np.exp(5) + 30), rel=1e-3)  # ~0.83
    assert float(probs(_policy_with_one_strong_category(logit_bound=0.0))) > 0.999


def test_budget_input_switch_feeds_or_drops_the_spent_share():
    on = SequenceNetwork([3, 3], units=4, budget_input=True)
    off = SequenceNetwork([3, 3], units=4, budget_input=False)
    for net in (on, off):
        net.sample(1, tf.zeros([2], tf.int64))
    assert off.spent_embedding is None and all("spent" not in v.name for v in off.variables)
    i, choice = tf.constant(0), tf.constant([1, 1])
    spent = tf.constant([0.0, 0.7])
    fed_on = on.next_input(i, choice, spent).numpy()
    fed_off = off.next_input(i, choice, spent).numpy()
    assert np.any(fed_on[0] != fed_on[1])           # same choice, different spent share
    np.testing.assert_array_equal(fed_off[0], fed_off[1])
