"""The controller + baseline solve a bandit whose reward is given directly.

The updates are the search step's: one recorded ``rollout`` samples the configurations,
``losses_from`` scores them and ``apply`` takes the gradient of that same pass.
"""
import numpy as np
import pytest
import tensorflow as tf

from trainer_module.search.controller import Controller
from trainer_module.search.sequence_network import unroll


def a3c_step(ctl, batch, seed, reward_fn):
    """One controller update as ``NeuralInputSearch``'s search step takes it."""
    with tf.GradientTape() as tape:
        rollout = ctl.rollout(batch, seed)
        out = ctl.losses_from(rollout, reward_fn(rollout.actions))
    ctl.apply(tape, out["loss"])
    return out


def test_controller_finds_best_configuration_of_toy_bandit():
    sizes, best = [3, 4, 5], np.array([2, 1, 4])
    ctl = Controller(sizes, learning_rate=1e-2)
    probs0 = ctl.probabilities()
    assert all(np.allclose(p, 1.0 / len(p), atol=0.02) for p in probs0)  # near-uniform start
    uniform = float(np.mean(np.log(sizes)))
    assert abs(ctl.mean_entropy() - uniform) < 0.01

    @tf.function
    def step(i):
        return a3c_step(ctl, 64, tf.stack([tf.constant(7, tf.int64), i]),
                        lambda actions: tf.reduce_mean(tf.cast(actions == best, tf.float32), axis=1))

    for i in range(250):
        out = step(tf.constant(i, tf.int64))
    np.testing.assert_array_equal(ctl.greedy(), best)
    assert all(p[b] > 0.8 for p, b in zip(ctl.probabilities(), best))
    assert float(out["mean_baseline"]) > 0.8  # the baseline learned the expected reward
    assert ctl.mean_entropy() < 0.5 * uniform  # decided


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


def test_budget_masking_samples_only_feasible_configurations():
    # Three decisions whose categories cost 0, 0.4, 0.7 budgets: at most two cheap picks fit.
    costs = [[0.0, 0.4, 0.7]] * 3
    ctl = Controller([3, 3, 3], decision_costs=costs)
    acts = ctl.sample(4000, tf.constant([3, 4], tf.int64)).numpy()
    spent = np.take(np.array([0.0, 0.4, 0.7]), acts).sum(axis=1)
    assert spent.max() <= 1.0 + 1e-6
    assert {tuple(a) for a in acts} >= {(1, 1, 0), (0, 2, 0), (0, 0, 2), (2, 0, 0)}
    # Masked categories have probability 0 along a path that spent the budget.
    p = ctl.probabilities([2, 0, 0])
    assert p[1][2] == 0.0 and p[1][1] == 0.0 and p[1][0] == 1.0
    assert np.isfinite(ctl.log_prob(tf.constant(acts[:50])).numpy()).all()


@pytest.mark.parametrize("shuffle_groups", [None, [1, 1]], ids=["index_order", "shuffled"])
def test_budget_masked_controller_learns_best_feasible_configuration(shuffle_groups):
    # Reward prefers big picks everywhere; only (2, 0) or (0, 2) or (1, 1) fit; (1, 1) wins.
    costs = [[0.0, 0.5, 1.0]] * 2
    ctl = Controller([3, 3], learning_rate=1e-2, decision_costs=costs, shuffle_groups=shuffle_groups)
    value = np.array([0.0, 0.6, 0.8], np.float32)

    @tf.function
    def step(i):
        return a3c_step(ctl, 64, tf.stack([tf.constant(9, tf.int64), i]),
                        lambda actions: tf.reduce_sum(tf.gather(value, actions), axis=1))

    for i in range(200):
        step(tf.constant(i, tf.int64))
    np.testing.assert_array_equal(ctl.greedy(), [1, 1])


def test_sampled_rollout_gives_the_teacher_forced_losses_and_gradients():
    # The search step differentiates the sampling pass itself; it must equal the classic
    # sample-then-teacher-force update.
    ctl = Controller([3, 4, 2], decision_costs=[[0.0, 0.3, 0.6], [0.0, 0.2, 0.4, 0.8], [0.0, 0.5]])
    rewards = tf.constant(np.linspace(0.0, 1.0, 16), tf.float32)
    with tf.GradientTape() as tape:
        rollout = ctl.rollout(20, tf.constant([5, 6], tf.int64))
        fused = ctl.losses_from(rollout.rows(4), rewards)
    with tf.GradientTape() as tape2:  # the same choices fed back in (teacher forced)
        forced = ctl.losses_from(ctl.rollout(16, actions=rollout.actions[4:]), rewards)
    for key in ("loss", "policy_loss", "baseline_loss", "entropy"):
        np.testing.assert_allclose(fused[key].numpy(), forced[key].numpy(), rtol=1e-5, atol=1e-6)
    grads = tape.gradient(fused["loss"], ctl.trainable_variables)
    grads2 = tape2.gradient(forced["loss"], ctl.trainable_variables)
    assert sum(float(tf.reduce_sum(tf.abs(g))) for g in grads) > 0
    for g, g2 in zip(grads, grads2):
        np.testing.assert_allclose(tf.convert_to_tensor(g).numpy(), tf.convert_to_tensor(g2).numpy(),
                                   rtol=1e-4, atol=1e-6)


def test_shuffled_sampling_is_budget_masked_and_its_pass_is_reproduced_in_its_order():
    costs = [[0.0, 0.4, 0.7]] * 3
    ctl = Controller([3, 3, 3], decision_costs=costs, shuffle_groups=[1, 1, 1])
    seed = tf.constant([3, 4], tf.int64)
    rollout = ctl.rollout(3000, seed)
    acts = rollout.actions.numpy()
    assert np.take(np.array([0.0, 0.4, 0.7]), acts).sum(axis=1).max() <= 1.0 + 1e-6
    # With a near-uniform policy the first-decided feature takes the big pick most often:
    # in index order that is always decision 0; shuffled, each decision gets it equally.
    share = (acts == 2).mean(axis=0)
    assert share.min() > 0.8 * share.max(), share
    fixed = Controller([3, 3, 3], decision_costs=costs).sample(3000, seed).numpy()
    fixed_share = (fixed == 2).mean(axis=0)
    assert fixed_share[0] > 1.5 * fixed_share[2], fixed_share
    # Teacher forcing the sampled choices in the same per-row orders gives the same logits,
    # so the fused A3C update differentiates the pass that produced the choices.
    order = ctl._order(3000, seed)
    forced = unroll(ctl.policy, ctl.baseline, 3000, actions=rollout.actions, order=order)
    np.testing.assert_allclose(forced.logits.numpy(), rollout.logits.numpy(), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(forced.values.numpy(), rollout.values.numpy(), rtol=1e-5, atol=1e-5)
    with np.testing.assert_raises(ValueError):
        Controller([3, 3], shuffle_groups=[1])

