"""Per-row decision orders and the one-scan unroll of the controller's networks."""
import numpy as np
import tensorflow as tf

from trainer_module.controller import Controller
from trainer_module.sequence_network import random_orders, unroll


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
