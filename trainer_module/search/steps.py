"""The compiled pieces of a NIS search: warm-up, main, sampled main and controller steps.

``SearchSteps`` holds the supernet, its optimizer, the controller and the cost model
and builds the steps that the loops (``trainer_module.search.loops``) schedule. Each
step takes the number of the step it runs as ``step``: its randomness derives from
``(seed, step, replica)``, so a resumed search continues the same stream and concurrent
steps on parameter-server workers (each claiming its own number) draw different choices.

- ``warmup``: a supernet update under uniformly random choices (controller frozen);
- ``controller_step``: a supernet update, then the controller's A3C update on a
  validation batch, both under one controller pass (paper 3.3.3); it also returns the
  choices of the ``controller_every - 1`` main steps that follow;
- ``main``: a supernet update under those choices (the controller not updated);
- ``sampled_main``: a supernet update under freshly sampled choices (the parameter-server
  workers' steps between controller steps);
- ``score`` / ``scores_many``: the reward objective of given configurations on validation
  batches (the final selection).

Every step is one ``strategy.run``; the ``*_fn`` attributes are the compiled versions.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from trainer_module import distribute as cluster
from trainer_module.data.features import DatasetConfig
from trainer_module.model.sampled_softmax import sample_negatives, sampled_logits
from trainer_module.search.config import SearchConfig
from trainer_module.search.controller import Controller
from trainer_module.search.rewards import CostModel, group_means, grouped_auc, sampled_recall_at_1
from trainer_module.search.space import SearchSpace

# Candidates ``score_many`` scores at once on a batch (``tf.map_fn``'s parallel
# iterations): small passes over one batch are latency-bound, so several overlap.
SCORE_PARALLEL = 10

Step = tf.Tensor  # an int64 scalar (or the search's step variable, read where used)


class SearchSteps:
    """The search's steps over ``model``, ``optimizer``, ``controller`` and ``cost_model``.

    Args:
      space: the (searched) space; actions are in its decision order.
      dataset: the features the supernet reads.
      config: the search's settings (task, group sizes, seed, ``controller_every``).
      model: the supernet (``supernet.build_supernet``), with ``forward(features, levels)``.
      optimizer: the supernet's optimizer.
      controller: the policy.
      cost_model: the cost loss of a configuration.
      strategy: the ``tf.distribute`` strategy the variables were created under.
      num_labels: retrieval's label vocabulary size.
      counter: the int64 step variable (checkpointed; the loops advance it).
    """

    def __init__(self, space: SearchSpace, dataset: DatasetConfig, config: SearchConfig,
                 model: tf.keras.Model, optimizer, controller: Controller, cost_model: CostModel,
                 strategy: tf.distribute.Strategy, num_labels: Optional[int],
                 counter: tf.Variable):
        self.space, self.dataset, self.config = space, dataset, config
        self.model, self.optimizer, self.controller = model, optimizer, controller
        self.cost_model, self.strategy, self.num_labels = cost_model, strategy, num_labels
        self.counter = counter
        # Examples that share one sampled configuration (and one reward).
        self.group = config.group_size if config.task == "ranking" else config.retrieval_group_size
        self._se_tables = {f.name: tf.constant(f.se_level_table()) for f in space.features}
        self._slices = space.decision_slices()
        # No tensor-dependent Python control flow in the steps: skip AutoGraph's slow conversion.
        self.warmup_fn = tf.function(self.warmup, autograph=False)
        self.controller_step_fn = tf.function(self.controller_step, autograph=False)
        self.main_fn = tf.function(self.main, autograph=False)
        self.upcoming_fn = tf.function(self.upcoming, autograph=False)
        # Parameter servers: the final selection scores on the chief, outside the strategy.
        self.score_fn = tf.function(self._score_local if cluster.is_parameter_server(strategy)
                                    else self.score, autograph=False)
        self.score_many_fn = tf.function(self.score_many, autograph=False)

    # --- choices -------------------------------------------------------------------
    def levels(self, actions: tf.Tensor) -> Dict[str, tf.Tensor]:
        """Per-feature level vectors ``[N, T]`` from actions ``[N, n_decisions]`` in the space's order."""
        out = {}
        for f, sl in zip(self.space.features, self._slices):
            a = actions[:, sl]
            out[f.name] = tf.gather(self._se_tables[f.name], a[:, 0]) if self.space.mode == "SE" else a
        return out

    def num_choices(self, batch):
        """Sampled configurations for a batch of ``batch`` examples (one per group)."""
        return (batch + self.group - 1) // self.group

    def per_example(self, levels: Dict[str, tf.Tensor], batch) -> Dict[str, tf.Tensor]:
        """Each group's levels repeated for its examples (``[batch, T]``)."""
        if self.group == 1:
            return levels
        return {k: tf.repeat(v, self.group, axis=0)[:batch] for k, v in levels.items()}

    def seed(self, step: Step, salt: int) -> tf.Tensor:
        """The stateless seed of ``step``'s draw number ``salt`` on this replica."""
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        seed = tf.stack([tf.constant(self.config.seed, tf.int64), step * 4 + salt])
        return tf.random.experimental.stateless_fold_in(seed, tf.cast(replica, tf.int64))

    def no_choices(self, batch: int) -> tf.Tensor:
        """Placeholder choices for the steps between controller steps, of the shape a
        controller step returns (a compiled loop is traced once for both)."""
        rows = (self.config.controller_every - 1) * self.num_choices(batch)
        return tf.zeros([rows, len(self.space.decision_sizes())], tf.int32)

    def build_slots(self) -> None:
        """Creates the optimizers' slot variables up front (a compiled loop or a scheduled
        step may not create variables); the controller's beside the controller."""
        with self.strategy.scope():
            self.optimizer.build(self.model.trainable_variables)
            with cluster.unpartitioned(self.strategy, self.counter):
                self.controller.optimizer.build(self.controller.trainable_variables)

    # --- replica pieces ----------------------------------------------------------------
    def main_loss(self, features, labels, levels, seed) -> tf.Tensor:
        """The supernet's training loss on a batch under per-example ``levels``."""
        out = self.model.forward(features, levels)
        if self.config.task == "ranking":
            labels = tf.cast(tf.reshape(labels, [-1]), tf.float32)
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, out))
        return self.model.sampled_softmax_loss(out, labels, seed)

    def _supernet_choices(self, sampled, n, step):
        """The choices a search-phase supernet update trains under (``supernet_sampling``)."""
        if self.config.supernet_sampling == "uniform":
            return self.controller.uniform(n, self.seed(step, 0))
        return sampled

    def _train_main(self, x, y, actions, step):
        """One supernet update on a training batch under the choices ``actions``; the loss."""
        levels = self.per_example(self.levels(actions), tf.shape(y)[0])
        with tf.GradientTape() as tape:
            loss = self.main_loss(x, y, levels, self.seed(step, 1))
            scaled = loss / self.strategy.num_replicas_in_sync
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return loss

    def objective(self, features, labels, levels, n, step):
        """Per-choice objective O and validity mask (paper 3.3.2)."""
        out = self.model.forward(features, levels)
        labels = tf.reshape(labels, [-1])
        if self.config.task == "ranking":
            a = self.config.group_size
            return grouped_auc(tf.reshape(labels, [n, a]), tf.reshape(out, [n, a]))
        negatives, _ = sample_negatives(min(self.config.num_negatives, self.num_labels - 1),
                                        self.num_labels, self.seed(step, 3))
        true, neg = sampled_logits(out, labels, self.model.label_weights, self.model.label_bias,
                                   negatives)
        recall, valid = sampled_recall_at_1(true, neg), labels >= 0
        if self.group == 1:
            return recall, valid
        return group_means(recall, valid, self.group, n)

    def paired_objective(self, features, labels, levels, n, step):
        """Ranking objective ``[n]`` and validity of each of ``n`` configurations on the whole
        validation batch: the mean AUC over all its groups (``paired_rewards``).

        Args:
          features, labels: the validation batch (``n * group_size`` examples).
          levels: per-configuration level vectors ``{feature: [n, T]}``.
          n: configurations (the batch's groups).
          step: the step (seeds).
        """
        labels = tf.reshape(labels, [-1])
        batch = tf.shape(labels)[0]
        tiled = {k: tf.tile(v, [n] + [1] * (v.shape.rank - 1))
                 for k, v in features.items()}                       # config-major copies
        per_example = {k: tf.repeat(v, batch, axis=0) for k, v in levels.items()}
        auc, valid = self.objective(tiled, tf.tile(labels, [n]), per_example, n * n, step)
        return group_means(auc, valid, n, n)

    def _mean(self, value):
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, value, axis=None)

    # --- steps ---------------------------------------------------------------------------
    def warmup(self, features, labels, step: Step) -> tf.Tensor:
        """Warm-up: a supernet step under uniformly random choices (controller frozen)."""
        def replica_fn(x, y):
            return self._train_main(x, y, self.controller.uniform(
                self.num_choices(tf.shape(y)[0]), self.seed(step, 0)), step)
        return self._mean(self.strategy.run(replica_fn, args=(features, labels)))

    def main(self, features, labels, upcoming, index, step: Step) -> tf.Tensor:
        """A supernet step between controller steps (``controller_every``), the controller not
        updated: under rows ``index`` of ``upcoming``, the choices the last controller pass
        sampled for these steps (one pass serves them all; it is latency-bound)."""
        def replica_fn(x, y, a):
            n = self.num_choices(tf.shape(y)[0])
            return self._train_main(x, y, self._supernet_choices(a[index * n:(index + 1) * n],
                                                                 n, step), step)
        return self._mean(self.strategy.run(replica_fn, args=(features, labels, upcoming)))

    def upcoming(self, features, labels, step: Step):
        """Choices for the main-model steps up to the next controller step (a resumed run)."""
        def replica_fn(x, y):
            n = self.num_choices(rows(y)) * self.config.controller_every
            return self.controller.sample(n, self.seed(step, 2))
        return self.strategy.run(replica_fn, args=(features, labels))

    def sampled_main(self, features, labels, step: Step) -> tf.Tensor:
        """A supernet step under choices freshly sampled from the controller (not updated):
        the parameter-server workers' steps between controller steps."""
        def replica_fn(x, y):
            n = self.num_choices(rows(y))
            return self._train_main(x, y, self._supernet_choices(
                self.controller.sample(n, self.seed(step, 2)), n, step), step)
        return self._mean(self.strategy.run(replica_fn, args=(features, labels)))

    def controller_step(self, features, labels, val_features, val_labels, step: Step):
        """One search step (paper 3.3.3): a supernet step, then a controller step.

        One controller pass samples the configurations of both, and those of the
        ``controller_every - 1`` main-model steps that follow: the first rows train the
        supernet on the training batch, the next are returned for those steps, the rest are
        scored on the validation batch after the update (ranking with ``paired_rewards``: each
        on the whole batch) and get the A3C update. The pass is
        recorded for the controller's gradient, so it is not repeated teacher-forced.

        Returns:
          ``(stats, upcoming)``: main loss, mean reward, objective and cost ratio; the
          following main-model steps' choices.
        """
        def replica_fn(x, y, xv, yv):
            n_main, batch = self.num_choices(tf.shape(y)[0]), tf.shape(yv)[0]
            n, ahead = self.num_choices(batch), n_main * self.config.controller_every
            with tf.GradientTape() as tape:
                rollout = self.controller.rollout(ahead + n, self.seed(step, 2))
                with tape.stop_recording():
                    actions = rollout.actions
                    main_loss = self._train_main(
                        x, y, self._supernet_choices(actions[:n_main], n_main, step), step)
                    levels = self.levels(actions[ahead:])
                    if self.config.paired_rewards and self.config.task == "ranking":
                        objective, valid = self.paired_objective(xv, yv, levels, n, step)
                    else:
                        objective, valid = self.objective(xv, yv, self.per_example(levels, batch),
                                                          n, step)
                    cost_loss = self.cost_model.cost_loss(levels)
                    reward = objective - cost_loss
                losses = self.controller.losses_from(rollout.rows(ahead), reward, valid)
                scaled = losses["loss"] / self.strategy.num_replicas_in_sync
            self.controller.apply(tape, scaled)
            return tf.stack([main_loss, tf.reduce_mean(reward), tf.reduce_mean(objective),
                             tf.reduce_mean(self.cost_model.cost_ratio(levels))]), \
                actions[n_main:ahead]
        stats, upcoming = self.strategy.run(replica_fn,
                                            args=(features, labels, val_features, val_labels))
        return self._mean(stats), upcoming

    # --- scoring (the final selection) -------------------------------------------------------
    def _score_sums(self, x, y, actions):
        """Sum of the validation objective of configuration ``actions`` and its weight."""
        batch = tf.shape(y)[0]
        n = self.num_choices(batch)
        levels = self.levels(tf.tile(actions[None, :], [n, 1]))
        objective, valid = self.objective(x, y, self.per_example(levels, batch), n, self.counter)
        w = tf.cast(valid, tf.float32)
        return tf.stack([tf.reduce_sum(objective * w), tf.reduce_sum(w)])

    def score(self, features, labels, actions):
        """Mean validation objective of one configuration ``actions`` ``[n_decisions]``."""
        sums = self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(
            self._score_sums, args=(features, labels, actions)), axis=None)
        return sums[0] / tf.maximum(sums[1], 1.0)

    def _score_local(self, features, labels, actions):
        sums = self._score_sums(features, labels, actions)
        return sums[0] / tf.maximum(sums[1], 1.0)

    def score_many(self, features, labels, actions):
        """Mean validation objectives ``[C]`` of configurations ``actions`` ``[C, n_decisions]``
        on one batch: one row at a time inside one ``tf.map_fn``, so one call (and trace,
        whatever ``C``) scores many candidates and the runtime runs several at once; each row
        runs the ops of a ``score`` call (under one replica its reduction is the identity)."""
        return tf.map_fn(lambda a: self._score_local(features, labels, a), actions,
                         fn_output_signature=tf.float32, parallel_iterations=SCORE_PARALLEL)

    def scores(self, actions: Sequence[int], val_batches) -> List[float]:
        """The reward objective of configuration ``actions`` (space order) on each validation batch."""
        a = tf.constant(np.asarray(actions), tf.int32)
        return [float(self.score_fn(x, y, a).numpy()) for x, y in val_batches]

    def scores_many(self, candidates: Sequence[Sequence[int]], val_batches) -> np.ndarray:
        """The reward objective of each configuration (space order) on each validation batch,
        ``[len(candidates), len(val_batches)]``: the values ``scores`` gives, one call per batch
        (one per candidate and batch under several replicas, whose batches are split)."""
        if not len(candidates) or not len(val_batches):
            return np.zeros([len(candidates), len(val_batches)])
        if self.strategy.num_replicas_in_sync > 1:
            return np.array([self.scores(a, val_batches) for a in candidates])
        acts = tf.constant(np.asarray(candidates), tf.int32)
        return np.stack([self.score_many_fn(x, y, acts).numpy() for x, y in val_batches],
                        axis=1).astype(np.float64)


def rows(labels: tf.Tensor):
    """A batch's size: static when known (a sampling rollout needs it), else a tensor."""
    return labels.shape[0] if labels.shape[0] is not None else tf.shape(labels)[0]
