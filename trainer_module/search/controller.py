"""NIS controller: an autoregressive policy over all choices plus a same-shape baseline.

The controller (ENAS style) is an LSTM that makes the search's decisions one
after another, each from its own softmax (SE: ``S*T+1`` categories per feature;
ME: ``T`` decisions of ``S+1`` categories per feature), feeding an embedding of
the previous choice back in, so later features can react to the budget spent by
earlier ones. Output layers start at ~zero, so the initial policy is
near-uniform. The baseline network has the same structure and its own
variables; before each decision it predicts the expected reward given the
choices made so far. Training follows A3C: the advantage ``reward - baseline``
weights the log-probabilities, an entropy bonus keeps exploring, and the
baseline regresses on the reward.

Policy and baseline run in lockstep inside one ``tf.scan`` (``rollout``; the
networks and the scan live in ``sequence_network``), so a search step samples,
scores and differentiates in a single pass over the decisions instead of one
pass to sample and two teacher-forced passes to train.

With ``shuffle_groups`` (the number of decisions of each feature) every sampled
configuration decides the features in its own random order, so no feature is
always decided last, after the others have spent a tight budget; the decisions
of one feature stay together. Greedy choices and log-probabilities of given
configurations use the index order.

Example::

    ctl = Controller([21, 21], learning_rate=5e-3)
    with tf.GradientTape() as tape:                # one A3C step, as the search takes it
        rollout = ctl.rollout(64, seed=tf.constant([1, 2], tf.int64))  # actions int32 [64, 2]
        losses = ctl.losses_from(rollout, rewards=my_rewards(rollout.actions))
    ctl.apply(tape, losses["loss"])
    ctl.greedy()                                   # most probable choices
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from trainer_module.search.sequence_network import ExactPricing, Rollout, SequenceNetwork, random_orders, \
    unroll


class Controller(tf.Module):
    """Policy + baseline + their optimizer and the A3C update."""

    def __init__(self, decision_sizes: Sequence[int], units: int = 64,
                 learning_rate: float = 1e-3, entropy_weight: float = 1e-2,
                 baseline_weight: float = 1.0, decision_costs: Optional[Sequence[Sequence[float]]] = None,
                 shuffle_groups: Optional[Sequence[int]] = None,
                 exact_pricing: Optional[ExactPricing] = None, logit_bound: float = 2.5,
                 budget_input: bool = True, normalize_advantage: bool = False,
                 name: Optional[str] = None):
        super().__init__(name=name)
        self.decision_sizes = [int(n) for n in decision_sizes]
        # Sampled configurations decide these groups of consecutive decisions (features) in a
        # fresh random order per row; greedy, log_prob and teacher forcing use index order.
        self.shuffle_groups = None if shuffle_groups is None else [int(k) for k in shuffle_groups]
        if self.shuffle_groups is not None and (sum(self.shuffle_groups) != len(self.decision_sizes)
                                                or min(self.shuffle_groups) < 1):
            raise ValueError(f"shuffle_groups {self.shuffle_groups} must be positive and sum to the "
                             f"{len(self.decision_sizes)} decisions")
        any_order = self.shuffle_groups is not None
        self.policy = SequenceNetwork(self.decision_sizes, units, "policy", decision_costs=decision_costs,
                                      any_order=any_order, exact_pricing=exact_pricing,
                                      logit_bound=logit_bound, budget_input=budget_input,
                                      name="policy")
        self.baseline = SequenceNetwork(self.decision_sizes, units, "value", decision_costs=decision_costs,
                                        any_order=any_order, budget_input=budget_input, name="baseline")
        self.optimizer = tf.keras.optimizers.Adam(learning_rate)
        self.entropy_weight = float(entropy_weight)
        self.baseline_weight = float(baseline_weight)
        self.normalize_advantage = bool(normalize_advantage)
        # Create variables now so checkpoints and strategies see them.
        self.rollout(1, actions=tf.zeros([1, len(self.decision_sizes)], tf.int32))
        # Logged every few steps during a search: traced once instead of run op by op.
        self._greedy_fn = tf.function(lambda: self.policy.sample(1, tf.zeros([2], tf.int64), greedy=True),
                                      autograph=False)

    @property
    def trainable_variables(self):
        return self.policy.trainable_variables + self.baseline.trainable_variables

    def _order(self, batch, seed: Optional[tf.Tensor]) -> Optional[tf.Tensor]:
        """Per-row decision orders of a sampled batch (None: index order)."""
        if self.shuffle_groups is None or seed is None:
            return None
        salted = tf.random.experimental.stateless_fold_in(tf.cast(seed, tf.int64), -7)
        return random_orders(self.shuffle_groups, batch, salted)

    def rollout(self, batch, seed: Optional[tf.Tensor] = None,
                actions: Optional[tf.Tensor] = None) -> Rollout:
        """Samples ``batch`` configurations (or feeds ``actions``) through policy and baseline."""
        order = self._order(batch, seed) if actions is None else None
        return unroll(self.policy, self.baseline, batch, actions=actions, seed=seed, order=order)

    def sample(self, batch: int, seed: tf.Tensor) -> tf.Tensor:
        """``batch`` sampled configurations ``[B, n]`` (in random group orders when shuffled)."""
        return unroll(self.policy, None, batch, seed=seed, order=self._order(batch, seed)).actions

    def uniform(self, batch: int, seed: tf.Tensor) -> tf.Tensor:
        """Uniformly random choices (warm-up: every block gets trained)."""
        cols = []
        for i, n in enumerate(self.decision_sizes):
            s = tf.random.experimental.stateless_fold_in(seed, i)
            cols.append(tf.random.stateless_uniform([batch], s, minval=0, maxval=n, dtype=tf.int32))
        return tf.stack(cols, axis=1)

    def greedy(self) -> np.ndarray:
        """The most probable choice at every step (autoregressive argmax), int ``[n_decisions]``."""
        return self._greedy_fn()[0].numpy()

    def log_prob(self, actions: tf.Tensor) -> tf.Tensor:
        """Joint log-probability ``[B]`` of full choice vectors."""
        actions = tf.cast(actions, tf.int32)
        logp, _ = _logp_entropy(unroll(self.policy, None, tf.shape(actions)[0], actions=actions))
        return tf.reduce_sum(logp, axis=1)

    def probabilities(self, actions: Optional[Sequence[int]] = None) -> List[np.ndarray]:
        """Each decision's distribution along ``actions`` (default: the greedy path)."""
        acts = self.greedy() if actions is None else np.asarray(actions)
        outs = self.policy.step_outputs(tf.constant(acts[None, :], tf.int32))
        return [tf.nn.softmax(o)[0].numpy() for o in outs]

    def mean_entropy(self) -> float:
        """Mean per-decision entropy (nats) of the policy along its most probable path: how
        undecided the controller still is (the log of the category count when uniform)."""
        return float(np.mean([-np.sum(p * np.log(np.maximum(p, 1e-12)))
                              for p in self.probabilities()]))

    def losses_from(self, rollout: Rollout, rewards, weights=None) -> Dict[str, tf.Tensor]:
        """A3C losses of a rollout whose configurations earned ``rewards`` ``[B]``."""
        rewards = tf.cast(rewards, tf.float32)
        weights = tf.ones_like(rewards) if weights is None else tf.cast(weights, tf.float32)
        denom = tf.maximum(tf.reduce_sum(weights), 1.0)
        logp, ent = _logp_entropy(rollout)
        values = rollout.values                                                    # [B, n]
        advantage = tf.stop_gradient(rewards[:, None] - values)
        if self.normalize_advantage:  # in units of this step's reward spread
            mean = tf.reduce_sum(rewards * weights) / denom
            spread = tf.sqrt(tf.reduce_sum(tf.square(rewards - mean) * weights) / denom)
            advantage = advantage / tf.stop_gradient(spread + 1e-3)
        policy_loss = -tf.reduce_sum(tf.reduce_sum(logp * advantage, 1) * weights) / denom
        entropy = tf.reduce_sum(tf.reduce_sum(ent, 1) * weights) / denom
        baseline_loss = tf.reduce_sum(
            tf.reduce_mean(tf.square(rewards[:, None] - values), 1) * weights) / denom
        total = policy_loss - self.entropy_weight * entropy + self.baseline_weight * baseline_loss
        return {"loss": total, "policy_loss": policy_loss, "baseline_loss": baseline_loss,
                "entropy": entropy, "mean_baseline": tf.reduce_mean(values)}

    def apply(self, tape: tf.GradientTape, loss: tf.Tensor) -> None:
        """Applies the gradient of ``loss`` (recorded on ``tape``) to policy and baseline."""
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))


def _logp_entropy(rollout: Rollout):
    """Per-decision log-probabilities of the rollout's choices and entropies, ``[B, n]`` each."""
    log_sm = tf.nn.log_softmax(rollout.logits)       # padded / masked categories: ~-1e9, p = 0
    logp = tf.gather(log_sm, rollout.actions, batch_dims=2)
    ent = -tf.reduce_sum(tf.exp(log_sm) * log_sm, axis=-1)
    return logp, ent
