"""The NIS search loop (paper 3.3.3): warm-up, then alternating main/controller steps.

``run_search(space, dataset, train_ds, val_ds, config)`` is the one library call
the TFX component, the benchmark and the tests use. It

1. trains every Embedding Block of the supernet for ``warmup_steps`` under
   uniformly random choices with the controller frozen;
2. then trains the supernet on training batches under choices sampled from the
   controller, and every ``controller_every``-th of those steps is followed by a
   controller step on a validation batch (A3C on ``reward = O - C_L``; per group of
   ``group_size`` examples for ranking, per example, or per group of
   ``retrieval_group_size``, for retrieval); such a pair is one ``tf.function``
   whose single controller pass samples the choices of both and is differentiated
   for the update (the paper alternates them one to one: ``controller_every=1``);
3. checkpoints model, controller, baseline, optimizers and step (randomness is
   derived from ``(seed, step, replica)``, so a resumed run continues the same
   stream), logs progress to TensorBoard, and
4. emits the best-scoring (on held-back validation batches) of the controller's
   most probable configuration, ``final_candidates`` samples and
   ``final_random_candidates`` random within-budget configurations (with
   ``fill_budget``, an SE pick is then widened into the unused budget).

Every step is one ``strategy.run``: pass a ``MirroredStrategy`` (GPUs) or ``TPUStrategy``; the
default strategy runs on CPU. On one machine ``search_loop`` runs up to ``steps_per_call`` of
them per compiled call; under a ``ParameterServerStrategy`` the chief schedules the same steps
on the workers (``ps_search``).
"""
from __future__ import annotations

import json
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from trainer_module.search import budget as budget_lib
from trainer_module import distribute as cluster
from trainer_module.search import memory_plan
from trainer_module.model import optimizers
from trainer_module.search.loops import parameter_server as ps_search
from trainer_module.search.loops import local as search_loop
from trainer_module.search import progress
from trainer_module.model import progress as model_progress
from trainer_module.search import final_selection as selection
from trainer_module.search import warm_start as warm_lib
from trainer_module.search.controller import Controller
from trainer_module.data.features import DatasetConfig
from trainer_module.search.supernet import build_supernet
from trainer_module.model.sampled_softmax import sample_negatives, sampled_logits
from trainer_module.search.rewards import CostModel, CostTerm, group_means, grouped_auc, \
    sampled_recall_at_1
from trainer_module.search.config import SearchConfig, SearchResult
from trainer_module.spec.mes import checked
from trainer_module.search.space import SearchSpace
from trainer_module.search.sequence_network import ExactPricing

# Candidates the final selection scores at once on a batch (``tf.map_fn``'s parallel
# iterations): small passes over one batch are latency-bound, so several overlap.
SCORE_PARALLEL = 10

__all__ = ["SearchConfig", "SearchResult", "NeuralInputSearch", "exact_pricing", "run_search",
           "searched_space"]


def exact_pricing(space: SearchSpace) -> Optional[ExactPricing]:
    """Geometry for exact ME budget masks, decisions in the space's order (projections are
    not additive over decisions); None when the fixed per-category costs are exact already
    (SE, whose picks have no projections, or tables-only accounting)."""
    if space.mode != "ME" or space.accounting != "exact":
        return None
    feature = [f for f, sl in enumerate(space.decision_slices()) for _ in range(sl.start, sl.stop)]
    dims = [d for f in space.features for d in f.dim_chunks]
    return ExactPricing(feature=feature, dim=dims,
                        block_vocab=[list(f.block_vocab) for f in space.features],
                        budget=float(space.budget))


def searched_space(space: SearchSpace, config: SearchConfig) -> SearchSpace:
    """The space a search with ``config`` runs on: ``space`` without the widths its budget
    rules out (``SearchSpace.within_budget_widths``; "auto": in features with more than
    ``optimizers.LAZY_ADAM_ROWS`` ids), or as given when ``prune_widths`` is "off"."""
    if config.prune_widths == "off":
        return space
    return space.within_budget_widths(
        min_vocab=0 if config.prune_widths == "on" else optimizers.LAZY_ADAM_ROWS)


class NeuralInputSearch:
    """Holds the supernet, the controller and the search state; ``run`` drives the loop."""

    def __init__(self, space: SearchSpace, dataset: DatasetConfig, config: SearchConfig,
                 num_labels: Optional[int] = None, strategy: Optional[tf.distribute.Strategy] = None,
                 cost_terms: Sequence[CostTerm] = ()):
        if config.task != dataset.task:
            raise ValueError(f"search task {config.task!r} differs from the dataset's {dataset.task!r}")
        space.check_feasible()
        space = searched_space(space, config)
        self.memory_plan = memory_plan.checked_plan(space, config.hidden_units, num_labels,
                                                    config.memory_limit_bytes)
        self.space, self.dataset, self.config = space, dataset, config
        self.num_labels = num_labels
        self.strategy = strategy or tf.distribute.get_strategy()
        self.cost_model = CostModel(space, cost_terms)
        # Examples that share one sampled configuration (and one reward).
        self._group = config.group_size if config.task == "ranking" else config.retrieval_group_size
        self._se_tables = {f.name: tf.constant(f.se_level_table()) for f in space.features}
        self._slices = space.decision_slices()
        # The controller decides in the space's order; in "random" order it shuffles the
        # features per sampled configuration and returns the actions in the space's order.
        groups = ([sl.stop - sl.start for sl in self._slices]
                  if config.decision_order == "random" else None)
        self._warm: Optional[np.ndarray] = None  # the previous MES projected (warm start)
        with self.strategy.scope():
            self.model = build_supernet(space, dataset, num_labels, config.hidden_units)
            rows = max([f.vocab_size for f in space.features] + [num_labels or 0])
            self.optimizer = optimizers.make(config.optimizer, config.learning_rate, rows)
            costs = ([[c / space.budget for c in dc] for dc in space.decision_costs()]
                     if config.budget_masking else None)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            with cluster.unpartitioned(self.strategy, self.step):
                self.controller = Controller(space.decision_sizes(), config.controller_units,
                                             config.controller_learning_rate, config.entropy_weight,
                                             decision_costs=costs, shuffle_groups=groups,
                                             exact_pricing=exact_pricing(space),
                                             logit_bound=config.logit_bound,
                                             budget_input=config.budget_input)
            self._build_model()
        # No tensor-dependent Python control flow in the steps: skip AutoGraph's slow conversion.
        self._warmup_fn = tf.function(self._warmup_step, autograph=False)
        self._search_fn = tf.function(self._search_step, autograph=False)
        self._main_fn = tf.function(self._main_step, autograph=False)
        self._upcoming_fn = tf.function(self._upcoming, autograph=False)
        # Parameter servers: the final selection scores on the chief, outside the strategy.
        self._score_fn = tf.function(self._score_local if cluster.is_parameter_server(self.strategy)
                                     else self._score_step, autograph=False)
        self._score_many_fn = tf.function(self._score_many, autograph=False)
        self._claimed_step = None  # a scheduled step's own number (ps_search)
        self._last_stats = None    # the last logged controller statistics

    # --- shapes ----------------------------------------------------------------
    def _build_model(self):
        feats = {f.name: tf.zeros([1, f.max_len], tf.int64) for f in self.dataset.features}
        self.model.forward(feats, self.levels(tf.zeros([1, len(self.space.decision_sizes())], tf.int32)))

    def levels(self, actions: tf.Tensor) -> Dict[str, tf.Tensor]:
        """Per-feature level vectors ``[N, T]`` from actions ``[N, n_decisions]`` in the space's order."""
        out = {}
        for f, sl in zip(self.space.features, self._slices):
            a = actions[:, sl]
            out[f.name] = tf.gather(self._se_tables[f.name], a[:, 0]) if self.space.mode == "SE" else a
        return out

    def _num_choices(self, batch):
        return (batch + self._group - 1) // self._group

    def _per_example(self, levels, batch):
        if self._group == 1:
            return levels
        return {k: tf.repeat(v, self._group, axis=0)[:batch] for k, v in levels.items()}

    def _seed(self, salt: int) -> tf.Tensor:
        replica = tf.distribute.get_replica_context().replica_id_in_sync_group
        step = self.step if self._claimed_step is None else self._claimed_step
        seed = tf.stack([tf.constant(self.config.seed, tf.int64), step * 4 + salt])
        return tf.random.experimental.stateless_fold_in(seed, tf.cast(replica, tf.int64))

    # --- replica steps -----------------------------------------------------------
    def _main_loss(self, features, labels, levels, seed):
        out = self.model.forward(features, levels)
        if self.config.task == "ranking":
            labels = tf.cast(tf.reshape(labels, [-1]), tf.float32)
            return tf.reduce_mean(tf.nn.sigmoid_cross_entropy_with_logits(labels, out))
        return self.model.sampled_softmax_loss(out, labels, seed)

    def _train_main(self, x, y, actions):
        """One supernet update on a training batch under the choices ``actions``; the loss."""
        levels = self._per_example(self.levels(actions), tf.shape(y)[0])
        with tf.GradientTape() as tape:
            loss = self._main_loss(x, y, levels, self._seed(1))
            scaled = loss / self.strategy.num_replicas_in_sync
        variables = self.model.trainable_variables
        self.optimizer.apply_gradients(zip(tape.gradient(scaled, variables), variables))
        return loss

    def _warmup_step(self, features, labels):
        """Warm-up: a supernet step under uniformly random choices (controller frozen)."""
        def replica_fn(x, y):
            return self._train_main(x, y, self.controller.uniform(
                self._num_choices(tf.shape(y)[0]), self._seed(0)))
        loss = self.strategy.run(replica_fn, args=(features, labels))
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None)

    def _main_step(self, features, labels, upcoming, index):
        """A supernet step between controller steps (``controller_every``), the controller not
        updated: under rows ``index`` of ``upcoming``, the choices the last controller pass
        sampled for these steps (one pass serves them all; it is latency-bound)."""
        def replica_fn(x, y, a):
            n = self._num_choices(tf.shape(y)[0])
            return self._train_main(x, y, a[index * n:(index + 1) * n])
        loss = self.strategy.run(replica_fn, args=(features, labels, upcoming))
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None)

    def _upcoming(self, features, labels):
        """Choices for the main-model steps up to the next controller step (a resumed run)."""
        def replica_fn(x, y):
            n = self._num_choices(_rows(y)) * self.config.controller_every
            return self.controller.sample(n, self._seed(2))
        return self.strategy.run(replica_fn, args=(features, labels))

    def _sampled_main_step(self, features, labels):
        """A supernet step under choices freshly sampled from the controller (not updated):
        the parameter-server workers' steps between controller steps."""
        def replica_fn(x, y):
            return self._train_main(x, y, self.controller.sample(
                self._num_choices(_rows(y)), self._seed(2)))
        loss = self.strategy.run(replica_fn, args=(features, labels))
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, loss, axis=None)

    def _objective(self, features, labels, levels, n):
        """Per-choice objective O and validity mask (paper 3.3.2)."""
        out = self.model.forward(features, levels)
        labels = tf.reshape(labels, [-1])
        if self.config.task == "ranking":
            a = self.config.group_size
            return grouped_auc(tf.reshape(labels, [n, a]), tf.reshape(out, [n, a]))
        negatives, _ = sample_negatives(min(self.config.num_negatives, self.num_labels - 1),
                                        self.num_labels, self._seed(3))
        true, neg = sampled_logits(out, labels, self.model.label_weights, self.model.label_bias,
                                   negatives)
        recall, valid = sampled_recall_at_1(true, neg), labels >= 0
        if self._group == 1:
            return recall, valid
        return group_means(recall, valid, self._group, n)

    def _search_step(self, features, labels, val_features, val_labels):
        """One search step (paper 3.3.3): a supernet step, then a controller step.

        One controller pass samples the configurations of both, and those of the
        ``controller_every - 1`` main-model steps that follow: the first rows train the
        supernet on the training batch, the next are returned for those steps, the rest are
        scored on the validation batch after the update and get the A3C update. The pass is
        recorded for the controller's gradient, so it is not repeated teacher-forced.

        Returns:
          ``(stats, upcoming)``: main loss, mean reward, objective and cost ratio; the
          following main-model steps' choices.
        """
        def replica_fn(x, y, xv, yv):
            n_main, batch = self._num_choices(tf.shape(y)[0]), tf.shape(yv)[0]
            n, ahead = self._num_choices(batch), n_main * self.config.controller_every
            with tf.GradientTape() as tape:
                rollout = self.controller.rollout(ahead + n, self._seed(2))
                with tape.stop_recording():
                    actions = rollout.actions
                    main_loss = self._train_main(x, y, actions[:n_main])
                    levels = self.levels(actions[ahead:])
                    objective, valid = self._objective(xv, yv, self._per_example(levels, batch), n)
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
        return self.strategy.reduce(tf.distribute.ReduceOp.MEAN, stats, axis=None), upcoming

    def _score_sums(self, x, y, actions):
        """Sum of the validation objective of configuration ``actions`` and its weight."""
        batch = tf.shape(y)[0]
        n = self._num_choices(batch)
        levels = self.levels(tf.tile(actions[None, :], [n, 1]))
        objective, valid = self._objective(x, y, self._per_example(levels, batch), n)
        w = tf.cast(valid, tf.float32)
        return tf.stack([tf.reduce_sum(objective * w), tf.reduce_sum(w)])

    def _score_step(self, features, labels, actions):
        """Mean validation objective of one configuration ``actions`` ``[n_decisions]``."""
        sums = self.strategy.reduce(tf.distribute.ReduceOp.SUM, self.strategy.run(
            self._score_sums, args=(features, labels, actions)), axis=None)
        return sums[0] / tf.maximum(sums[1], 1.0)

    def _score_local(self, features, labels, actions):
        sums = self._score_sums(features, labels, actions)
        return sums[0] / tf.maximum(sums[1], 1.0)

    def _score_many(self, features, labels, actions):
        """Mean validation objectives ``[C]`` of configurations ``actions`` ``[C, n_decisions]``
        on one batch: ``_score_local`` per row inside one ``tf.map_fn``, so one call (and
        trace, whatever ``C``) scores many candidates and the runtime runs several at once;
        each row runs the ops of a ``_score_fn`` call (under one replica its reduction is the
        identity), so the values are the same."""
        return tf.map_fn(lambda a: self._score_local(features, labels, a), actions,
                         fn_output_signature=tf.float32, parallel_iterations=SCORE_PARALLEL)

    # --- the loop ------------------------------------------------------------------
    def run(self, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset,
            checkpoint_dir: Optional[str] = None, log_dir: Optional[str] = None,
            on_step: Optional[Callable[[int], None]] = None,
            warm_start: Optional[warm_lib.WarmStart] = None) -> SearchResult:
        """Runs (or resumes) the search and returns the final within-budget MES.

        ``warm_start``: the previous run's MES and controller (``trainer_module.search.warm_start``);
        a fresh search restores that controller when it fits and offers the projected MES
        to the final selection.
        """
        cfg = self.config
        if cfg.task == "ranking":
            _check_group_batch(val_ds, cfg.group_size)
        # A fresh search starts from the previous controller; a checkpoint restored next wins.
        self._warm = None if warm_start is None else warm_lib.project(self.space, warm_start.spec)
        if warm_start is not None and int(self.step.numpy()) == 0:
            warm_lib.restore_controller(self.controller, self.space, warm_start.controller_dir)
        if cluster.is_parameter_server(self.strategy):
            return ps_search.run(self, train_ds, val_ds, checkpoint_dir, log_dir, on_step)
        return search_loop.run(self, train_ds, val_ds, checkpoint_dir, log_dir, on_step)

    def after_steps(self, step: int, warm: bool, main_loss, acc: list, history: list, writer,
                    manager, checkpoint_dir: Optional[str],
                    on_step: Optional[Callable[[int], None]],
                    timer: Optional[model_progress.Progress] = None) -> list:
        """The loop's bookkeeping once ``step`` steps are done (this loop's and ``ps_search``'s):
        a progress row at ``log_every`` and at the end, a checkpoint with the history at
        ``checkpoint_every`` and at the end, then ``on_step``. Returns the controller statistics
        still to log (emptied by a logged row)."""
        cfg = self.config
        total = cfg.warmup_steps + cfg.search_steps
        if step % cfg.log_every == 0 or step == total:
            history.append(self._log(step, warm, main_loss, acc, writer))
            if timer is not None:
                logging.info("%s", timer.line(step, "warm-up" if warm else "search"))
            acc = []
        if manager and (step % cfg.checkpoint_every == 0 or step == total):
            # Rows first: a checkpoint never lacks the rows up to its step (a kill between the
            # two writes leaves rows past the last checkpoint, which ``restore`` drops).
            progress.save_history(checkpoint_dir, history)
            manager.save(checkpoint_number=step)
        if on_step:
            on_step(step)
        return acc

    def restore(self, checkpoint_dir: str):
        """Restores the latest checkpoint in ``checkpoint_dir`` if any; returns (manager, history)."""
        ckpt = tf.train.Checkpoint(model=self.model, optimizer=self.optimizer,
                                   controller=self.controller, step=self.step)
        manager = tf.train.CheckpointManager(ckpt, checkpoint_dir, max_to_keep=2)
        if not manager.latest_checkpoint:
            return manager, []
        ckpt.restore(manager.latest_checkpoint)
        logging.info("NIS search resumed from %s at step %d", manager.latest_checkpoint,
                     int(self.step.numpy()))
        return manager, progress.load_history(checkpoint_dir, int(self.step.numpy()))

    def step_functions(self, val_batch_size: int) -> Dict[str, Callable[..., tf.Tensor]]:
        """The compiled pieces of a search step, so they can be timed alone.

        Args:
          val_batch_size: examples in the controller's validation batch.

        Returns:
          ``warmup_step(x, y)``, ``search_step(x, y, xv, yv)`` and ``main_step(x, y)``: the
          loop's own compiled steps; ``controller_update()``: one controller pass over a validation batch's choices
          with its A3C update (reward 0); ``reward(xv, yv)``: the supernet forward and the
          objective of uniformly drawn choices on a validation batch;
          ``supernet_forward(x, y)`` and ``supernet_gradients(x, y)``: the supernet's training
          loss under uniformly drawn choices, without and with its gradients (no update), the
          parts of a warm-up step.
        """
        n, ctl = self._num_choices(val_batch_size), self.controller

        def supernet_loss(x, y):
            actions = ctl.uniform(self._num_choices(_rows(y)), tf.constant([self.config.seed, 3], tf.int64))
            return self._main_loss(x, y, self._per_example(self.levels(actions), _rows(y)),
                                   self._seed(1))

        @tf.function(autograph=False)
        def supernet_gradients(x, y):
            variables = self.model.trainable_variables
            with tf.GradientTape() as tape:
                loss = supernet_loss(x, y)
            grads = tape.gradient(loss, variables)
            return tf.add_n([tf.reduce_sum(g.values if isinstance(g, tf.IndexedSlices) else g)
                             for g in grads])

        @tf.function(autograph=False)
        def controller_update():
            with tf.GradientTape() as tape:
                rollout = ctl.rollout(n, tf.constant([self.config.seed, 1], tf.int64))
                loss = ctl.losses_from(rollout, tf.zeros([n]))["loss"]
            ctl.apply(tape, loss)
            return loss

        @tf.function(autograph=False)
        def reward(val_features, val_labels):
            actions = ctl.uniform(n, tf.constant([self.config.seed, 2], tf.int64))
            levels = self._per_example(self.levels(actions), val_batch_size)
            return self._objective(val_features, val_labels, levels, n)[0]

        return {"warmup_step": self._warmup_fn, "search_step": self._search_fn,
                "main_step": self._main_fn, "controller_update": controller_update,
                "reward": reward, "supernet_forward": tf.function(supernet_loss, autograph=False),
                "supernet_gradients": supernet_gradients}

    def scores(self, actions: Sequence[int], val_batches) -> List[float]:
        """The reward objective of configuration ``actions`` (space order) on each validation batch."""
        a = tf.constant(np.asarray(actions), tf.int32)
        return [float(self._score_fn(x, y, a).numpy()) for x, y in val_batches]

    def scores_many(self, candidates: Sequence[Sequence[int]], val_batches) -> np.ndarray:
        """The reward objective of each configuration (space order) on each validation batch,
        ``[len(candidates), len(val_batches)]``: the values ``scores`` gives, one call per batch
        (one per candidate and batch under several replicas, whose batches are split)."""
        if not len(candidates) or not len(val_batches):
            return np.zeros([len(candidates), len(val_batches)])
        if self.strategy.num_replicas_in_sync > 1:
            return np.array([self.scores(a, val_batches) for a in candidates])
        acts = tf.constant(np.asarray(candidates), tf.int32)
        return np.stack([self._score_many_fn(x, y, acts).numpy() for x, y in val_batches],
                        axis=1).astype(np.float64)

    def _best_measured(self, first, samples, random_samples, val_batches):
        """The candidate the supernet scores best on ``val_batches`` (``selection.race``)
        among ``first``, the controller's ``samples`` and ``random_samples``."""
        controller = [first] + list(samples)
        from_controller = len(budget_lib.unique_feasible(self.space, controller))
        # unique_feasible keeps the order: the first from_controller are the controller's.
        candidates = budget_lib.unique_feasible(self.space, controller + list(random_samples))
        val_batches = list(val_batches)
        best, info = selection.race(candidates, self.scores_many, val_batches)
        info.update(random_candidates=len(candidates) - from_controller,
                    chosen_from="controller" if best < from_controller else "random")
        examples = [sum(_batch_len(y)) for _, y in val_batches]
        info.update(examples_per_candidate=sum(examples),
                    screening_examples=sum(examples[:info["screening_batches"]]))
        return candidates[best], info

    def _log(self, step, warm, main_loss, acc, writer) -> Dict:
        """A progress row; a window without a controller step (``log_every`` below
        ``controller_every``) repeats the last controller statistics."""
        if acc:  # rows of (mean reward, objective, cost ratio), one per controller step
            stats = np.mean(np.concatenate([np.reshape(a, (-1, 3)) for a in acc]), axis=0).tolist()
        else:
            stats = None if warm else self._last_stats
        self._last_stats = stats
        spec = self.space.to_spec(self.controller.greedy())
        row = progress.progress_row(step, warm, float(main_loss), stats, spec)
        progress.report(row, writer)
        return row

    def result(self, history=(), val_batches=()) -> SearchResult:
        """The emitted MES (always within budget), plus history and final probabilities.

        Without ``val_batches`` (or with ``final_candidates=0``) this is the controller's most
        probable feasible configuration. With them, that configuration and
        ``final_candidates`` samples of the controller are scored by the supernet on the
        batches, beside ``final_random_candidates`` random within-budget configurations
        (``budget.random_feasible``), and the best is emitted (ENAS' final selection, screened by
        ``selection.race``): a policy that is still spread out has an unstable argmax, while
        the sampled configurations it favours are measured directly.
        """
        greedy = self.controller.greedy()
        samples = self.controller.sample(max(512, self.config.final_candidates),
                                         tf.constant([self.config.seed, -1], tf.int64)).numpy()
        score = lambda a: self.controller.log_prob(tf.constant(a, tf.int32)).numpy()
        actions, info = budget_lib.select_within_budget(self.space, greedy, score, samples)
        previous = self._warm
        if previous is not None:  # the previous run's MES, projected and repaired into the budget
            previous = budget_lib.repair_path(self.space, previous, score)[-1]
            info["warm_start_cost"] = int(self.space.cost(previous))
        if val_batches and self.config.final_candidates:
            rand = budget_lib.random_feasible(self.space, self.config.final_random_candidates,
                                              self.config.seed)
            extra = [] if previous is None else [previous]
            actions, info["final_selection"] = self._best_measured(
                actions, extra + list(samples[:self.config.final_candidates]), rand, val_batches)
            if previous is not None:
                info["warm_start_chosen"] = bool(np.array_equal(actions, previous))
        if self.config.fill_budget and self.space.mode == "SE":
            info["unfilled_cost"] = int(self.space.cost(actions))
            actions = budget_lib.widen_to_budget(self.space, actions)
        probs = list(self.controller.probabilities(np.asarray(actions)))
        by_feature = {f.name: [p.tolist() for p in probs[sl]]
                      for f, sl in zip(self.space.features, self._slices)}
        info.update(steps=int(self.step.numpy()), task=self.config.task,
                    search_config=json.loads(self.config.to_json()),
                    search_space={f.name: {"block_vocab": list(f.block_vocab),
                                           "dim_chunks": list(f.dim_chunks)} for f in self.space.features})
        spec = checked(self.space.to_spec(actions, metadata=info))
        return SearchResult(spec=spec, history=list(history), probabilities=by_feature,
                            memory_plan=dict(self.memory_plan))


def _check_group_batch(ds: tf.data.Dataset, group_size: int) -> None:
    batch = ds.element_spec[1].shape[0]
    if batch is not None and batch % group_size:
        raise ValueError(f"ranking search: validation batch size {batch} is not a multiple of "
                         f"group_size {group_size} (each controller choice is scored by the AUC "
                         f"of one group)")


def _rows(labels: tf.Tensor):
    """A batch's size: static when known (a sampling rollout needs it), else a tensor."""
    return labels.shape[0] if labels.shape[0] is not None else tf.shape(labels)[0]


def _batch_len(labels):
    """Examples in a (possibly per-replica) label batch."""
    values = getattr(labels, "values", (labels,))
    return [int(tf.shape(v)[0]) for v in values]


def run_search(space: SearchSpace, dataset: DatasetConfig, train_ds: tf.data.Dataset,
               val_ds: tf.data.Dataset, config: SearchConfig, num_labels: Optional[int] = None,
               strategy: Optional[tf.distribute.Strategy] = None, checkpoint_dir: Optional[str] = None,
               log_dir: Optional[str] = None, cost_terms: Sequence[CostTerm] = (),
               on_step: Optional[Callable[[int], None]] = None,
               warm_start: Optional[warm_lib.WarmStart] = None,
               controller_dir: Optional[str] = None,
               train_examples: Optional[int] = None) -> SearchResult:
    """Runs NIS end to end and returns the emitted (within-budget) MES with the search history.

    ``warm_start`` starts from a previous run (see ``NeuralInputSearch.run``);
    ``controller_dir`` keeps the final controller there, for the next run's warm start;
    ``train_examples`` (the train split's size) scales the search's length to
    ``config.search_epochs`` passes (``SearchConfig.for_train_examples``).
    """
    if train_examples:
        config = config.for_train_examples(train_examples, search_loop.static_batch(train_ds) or 1)
    search = NeuralInputSearch(space, dataset, config, num_labels, strategy, cost_terms)
    result = search.run(train_ds, val_ds, checkpoint_dir, log_dir, on_step, warm_start)
    if controller_dir:
        warm_lib.save_controller(search.controller, search.space, controller_dir)
    return result
