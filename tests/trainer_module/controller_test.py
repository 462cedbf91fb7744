"""The controller + baseline solve a bandit whose reward is given directly."""
import numpy as np
import tensorflow as tf

from trainer_module.controller import Controller


def test_controller_finds_best_configuration_of_toy_bandit():
    sizes, best = [3, 4, 5], np.array([2, 1, 4])
    ctl = Controller(sizes, learning_rate=1e-2)
    probs0 = ctl.probabilities()
    assert all(np.allclose(p, 1.0 / len(p), atol=0.02) for p in probs0)  # near-uniform start

    @tf.function
    def step(i):
        actions = ctl.sample(64, tf.stack([tf.constant(7, tf.int64), i]))
        reward = tf.reduce_mean(tf.cast(actions == best, tf.float32), axis=1)
        return ctl.train_step(actions, reward)

    for i in range(250):
        out = step(tf.constant(i, tf.int64))
    np.testing.assert_array_equal(ctl.greedy(), best)
    assert all(p[b] > 0.8 for p, b in zip(ctl.probabilities(), best))
    assert float(out["mean_baseline"]) > 0.8  # the baseline learned the expected reward


def test_log_prob_matches_probabilities():
    ctl = Controller([3, 2])
    acts = np.array([[2, 1]])
    p = ctl.probabilities(acts[0])
    np.testing.assert_allclose(np.exp(ctl.log_prob(tf.constant(acts)).numpy()[0]), p[0][2] * p[1][1],
                               rtol=1e-5)


def test_uniform_warmup_choices_cover_all_categories():
    ctl = Controller([4, 6])
    acts = ctl.uniform(2000, tf.constant([1, 2], tf.int64)).numpy()
    assert set(acts[:, 0]) == set(range(4)) and set(acts[:, 1]) == set(range(6))
