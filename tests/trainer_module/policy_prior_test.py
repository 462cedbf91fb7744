"""The cost prior spreads a tight budget over features and stays learnable."""
import numpy as np
import pytest
import tensorflow as tf

from trainer_module import policy_prior as pp
from trainer_module.controller import Controller


def _expected(bias, costs):
    total = 0.0
    for z, c in zip(bias, costs):
        p = np.exp(np.asarray(z) - max(z))
        total += float(np.dot(p / p.sum(), c))
    return total


def test_water_level_caps_large_features_and_keeps_small_ones():
    assert pp.water_level([0.1, 5.0, 9.0], fill=1.0) == pytest.approx(0.45)
    assert pp.water_level([0.1, 0.2], fill=1.0) == float("inf")


def test_prior_gives_every_large_feature_the_same_expected_share():
    big = [[0.0, 0.5, 2.0, 4.0], [0.0, 1.0, 4.0, 8.0]]     # two decisions, up to 12 budgets
    small = [[0.0, 0.01, 0.02]]                             # uniform spends 0.01 budgets
    huge = [[0.0, 3.0, 9.0, 20.0]]
    bias = pp.cost_prior_bias([big, small, huge], fill=0.6)
    assert bias[1] == [[0.0, 0.0, 0.0]]                     # within the cap: uniform
    assert _expected(bias[0], big) == pytest.approx(0.295, abs=2e-3)
    assert _expected(bias[2], huge) == pytest.approx(0.295, abs=2e-3)
    for f in bias:                                          # cheaper categories never less likely
        for z in f:
            assert all(a >= b for a, b in zip(z, z[1:])) and min(z) >= pp.FLOOR


def test_prior_rejects_non_positive_fill():
    with pytest.raises(ValueError, match="fill"):
        pp.cost_prior_bias([[[0.0, 1.0]]], fill=0.0)


def test_controller_starts_at_the_prior_and_can_unlearn_it():
    prior = [[0.0, -4.0, -4.0]]
    ctl = Controller([3], learning_rate=5e-2, prior=prior)
    p0 = ctl.probabilities([0])[0]
    np.testing.assert_allclose(p0, np.exp(prior[0]) / np.exp(prior[0]).sum(), atol=0.02)

    @tf.function
    def step(i):
        actions = ctl.sample(64, tf.stack([tf.constant(3, tf.int64), i]))
        return ctl.train_step(actions, tf.cast(actions[:, 0] == 2, tf.float32))

    for i in range(150):
        step(tf.constant(i, tf.int64))
    assert ctl.greedy()[0] == 2                           # the unlikely-at-start choice wins
