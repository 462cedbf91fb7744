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

Example::

    ctl = Controller([21, 21], learning_rate=5e-3)
    actions = ctl.sample(64, seed=tf.constant([1, 2], tf.int64))   # int32 [64, 2]
    ctl.train_step(actions, rewards=my_rewards(actions))
    ctl.greedy()                                                     # most probable choices
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf


class SequenceNetwork(tf.keras.Model):
    """LSTM over decisions; ``head="policy"`` gives logits, ``head="value"`` a scalar per step."""

    def __init__(self, decision_sizes: Sequence[int], units: int = 64, head: str = "policy",
                 logit_bound: float = 2.5, **kw):
        super().__init__(**kw)
        self.logit_bound = float(logit_bound)
        self.decision_sizes = [int(n) for n in decision_sizes]
        self.units, self.head = int(units), head
        self.cell = tf.keras.layers.LSTMCell(self.units)
        self.choice_embeddings = [
            tf.keras.layers.Embedding(n, self.units, name=f"choice_emb_{i}")
            for i, n in enumerate(self.decision_sizes[:-1])]  # the last choice feeds nothing
        small = lambda: tf.keras.initializers.RandomUniform(-0.01, 0.01)  # noqa: E731
        self.heads = [tf.keras.layers.Dense(n if head == "policy" else 1, kernel_initializer=small(),
                                            name=f"{head}_{i}")
                      for i, n in enumerate(self.decision_sizes)]
        self.start = self.add_weight(name="start", shape=(1, self.units), initializer=small())

    def _squash(self, z):
        """Bounds policy logits to +-logit_bound (ENAS' tanh constant) so no choice dies early."""
        if self.head != "policy" or self.logit_bound <= 0:
            return z
        return self.logit_bound * tf.tanh(z / self.logit_bound)

    def _initial(self, batch):
        x = tf.tile(self.start, [batch, 1])
        zeros = tf.zeros([batch, self.units])
        return x, [zeros, zeros]

    def step_outputs(self, actions: tf.Tensor) -> List[tf.Tensor]:
        """Per-decision outputs with the given choices fed back (teacher forcing).

        Args:
          actions: int ``[B, n_decisions]``.
        Returns:
          list of ``[B, n_i]`` logits (policy) or ``[B, 1]`` values (value head).
        """
        actions = tf.cast(actions, tf.int32)
        x, state = self._initial(tf.shape(actions)[0])
        outs = []
        for i, head in enumerate(self.heads):
            h, state = self.cell(x, state)
            outs.append(self._squash(head(h)))
            if i < len(self.choice_embeddings):
                x = self.choice_embeddings[i](actions[:, i])
        return outs

    def sample(self, batch: int, seed: tf.Tensor, greedy: bool = False) -> tf.Tensor:
        """Samples (or, with ``greedy``, takes the argmax of) every decision in turn."""
        x, state = self._initial(batch)
        chosen = []
        for i, head in enumerate(self.heads):
            h, state = self.cell(x, state)
            logits = self._squash(head(h))
            if greedy:
                a = tf.argmax(logits, axis=-1, output_type=tf.int32)
            else:
                step_seed = tf.random.experimental.stateless_fold_in(seed, i)
                a = tf.cast(tf.random.stateless_categorical(logits, 1, step_seed)[:, 0], tf.int32)
            chosen.append(a)
            if i < len(self.choice_embeddings):
                x = self.choice_embeddings[i](a)
        return tf.stack(chosen, axis=1)


class Controller(tf.Module):
    """Policy + baseline + their optimizer and the A3C update."""

    def __init__(self, decision_sizes: Sequence[int], units: int = 64,
                 learning_rate: float = 1e-3, entropy_weight: float = 1e-2,
                 baseline_weight: float = 1.0, name: Optional[str] = None):
        super().__init__(name=name)
        self.decision_sizes = [int(n) for n in decision_sizes]
        self.policy = SequenceNetwork(self.decision_sizes, units, "policy", name="policy")
        self.baseline = SequenceNetwork(self.decision_sizes, units, "value", name="baseline")
        self.optimizer = tf.keras.optimizers.Adam(learning_rate)
        self.entropy_weight = float(entropy_weight)
        self.baseline_weight = float(baseline_weight)
        # Create variables now so checkpoints and strategies see them.
        dummy = tf.zeros([1, len(self.decision_sizes)], tf.int32)
        self.policy.step_outputs(dummy)
        self.baseline.step_outputs(dummy)

    @property
    def trainable_variables(self):
        return self.policy.trainable_variables + self.baseline.trainable_variables

    def sample(self, batch: int, seed: tf.Tensor) -> tf.Tensor:
        return self.policy.sample(batch, seed)

    def uniform(self, batch: int, seed: tf.Tensor) -> tf.Tensor:
        """Uniformly random choices (warm-up: every block gets trained)."""
        cols = []
        for i, n in enumerate(self.decision_sizes):
            s = tf.random.experimental.stateless_fold_in(seed, i)
            cols.append(tf.random.stateless_uniform([batch], s, minval=0, maxval=n, dtype=tf.int32))
        return tf.stack(cols, axis=1)

    def greedy(self) -> np.ndarray:
        """The most probable choice at every step (autoregressive argmax), int ``[n_decisions]``."""
        return self.policy.sample(1, tf.zeros([2], tf.int64), greedy=True)[0].numpy()

    def log_prob(self, actions: tf.Tensor) -> tf.Tensor:
        """Joint log-probability ``[B]`` of full choice vectors."""
        logp, _ = self._logp_entropy(actions)
        return tf.reduce_sum(logp, axis=1)

    def _logp_entropy(self, actions):
        actions = tf.cast(actions, tf.int32)
        logps, ents = [], []
        for i, logits in enumerate(self.policy.step_outputs(actions)):
            log_sm = tf.nn.log_softmax(logits)
            logps.append(tf.gather(log_sm, actions[:, i], batch_dims=1))
            ents.append(-tf.reduce_sum(tf.exp(log_sm) * log_sm, axis=-1))
        return tf.stack(logps, 1), tf.stack(ents, 1)

    def probabilities(self, actions: Optional[Sequence[int]] = None) -> List[np.ndarray]:
        """Each decision's distribution along ``actions`` (default: the greedy path)."""
        acts = self.greedy() if actions is None else np.asarray(actions)
        outs = self.policy.step_outputs(tf.constant(acts[None, :], tf.int32))
        return [tf.nn.softmax(o)[0].numpy() for o in outs]

    def losses(self, actions, rewards, weights=None) -> Dict[str, tf.Tensor]:
        """A3C losses for sampled ``actions`` ``[B, n]`` and their ``rewards`` ``[B]``."""
        rewards = tf.cast(rewards, tf.float32)
        weights = tf.ones_like(rewards) if weights is None else tf.cast(weights, tf.float32)
        denom = tf.maximum(tf.reduce_sum(weights), 1.0)
        logp, ent = self._logp_entropy(actions)
        values = tf.concat(self.baseline.step_outputs(actions), axis=1)            # [B, n]
        advantage = tf.stop_gradient(rewards[:, None] - values)
        policy_loss = -tf.reduce_sum(tf.reduce_sum(logp * advantage, 1) * weights) / denom
        entropy = tf.reduce_sum(tf.reduce_sum(ent, 1) * weights) / denom
        baseline_loss = tf.reduce_sum(
            tf.reduce_mean(tf.square(rewards[:, None] - values), 1) * weights) / denom
        total = policy_loss - self.entropy_weight * entropy + self.baseline_weight * baseline_loss
        return {"loss": total, "policy_loss": policy_loss, "baseline_loss": baseline_loss,
                "entropy": entropy, "mean_baseline": tf.reduce_mean(values)}

    def train_step(self, actions, rewards, weights=None, loss_scale: float = 1.0) -> Dict[str, tf.Tensor]:
        """One policy-gradient + baseline update (``loss_scale`` = 1/replicas under a strategy)."""
        with tf.GradientTape() as tape:
            out = self.losses(actions, rewards, weights)
            loss = out["loss"] * loss_scale
        variables = self.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(loss, variables), variables))
        return out
