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

The pieces: ``steps.SearchSteps`` (the compiled steps), ``checkpointing.Checkpointer``
(rows, summaries, checkpoints), ``loops.local`` / ``loops.parameter_server`` (which run the
steps) and ``final_selection`` (which configuration is emitted); ``NeuralInputSearch``
builds and connects them. Every step is one ``strategy.run``: pass a ``MirroredStrategy``
(GPUs) or ``TPUStrategy``; the default strategy runs on CPU. On one machine the local loop
runs up to ``steps_per_call`` of them per compiled call; under a ``ParameterServerStrategy``
the chief schedules the same steps on the workers.
"""
from __future__ import annotations

import json
from typing import Callable, Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

from trainer_module import distribute as cluster
from trainer_module.data.features import DatasetConfig
from trainer_module.model import optimizers
from trainer_module.search import final_selection as selection
from trainer_module.search.space import memory_plan
from trainer_module.search import warm_start as warm_lib
from trainer_module.search.checkpointing import Checkpointer
from trainer_module.search.config import SearchConfig, SearchResult
from trainer_module.search.controller import Controller
from trainer_module.search.loops import local as local_loop
from trainer_module.search.loops import parameter_server as ps_loop
from trainer_module.search.rewards import CostModel, CostTerm
from trainer_module.search.sequence_network import ExactPricing
from trainer_module.search.space import SearchSpace
from trainer_module.search.steps import SearchSteps
from trainer_module.search.supernet import build_supernet
from trainer_module.spec.mes import checked

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
    """Builds the supernet, the controller and their steps; ``run`` drives a loop over them.

    Attributes:
      steps: the compiled steps (``SearchSteps``), with ``scores`` / ``scores_many``.
      model, optimizer, controller, step: the search's state (what a checkpoint holds).
    """

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
                                             budget_input=config.budget_input,
                                             normalize_advantage=config.advantage_normalization)
            self.steps = SearchSteps(space, dataset, config, self.model, self.optimizer,
                                     self.controller, CostModel(space, cost_terms), self.strategy,
                                     num_labels, self.step)
            self._build_model()

    def _build_model(self):
        feats = {f.name: tf.zeros([1, f.max_len], tf.int64) for f in self.dataset.features}
        actions = tf.zeros([1, len(self.space.decision_sizes())], tf.int32)
        self.model.forward(feats, self.steps.levels(actions))

    def checkpointer(self, checkpoint_dir: Optional[str] = None, log_dir: Optional[str] = None,
                     on_step: Optional[Callable[[int], None]] = None) -> Checkpointer:
        """A ``Checkpointer`` of this search's state (its ``restore`` resumes it)."""
        objects = dict(model=self.model, optimizer=self.optimizer, controller=self.controller,
                       step=self.step)
        describe = lambda: self.space.to_spec(self.controller.greedy())  # noqa: E731
        return Checkpointer(self.config, objects, describe, checkpoint_dir, log_dir, on_step,
                            entropy=lambda: self.controller.mean_entropy())

    def run(self, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset,
            checkpoint_dir: Optional[str] = None, log_dir: Optional[str] = None,
            on_step: Optional[Callable[[int], None]] = None,
            warm_start: Optional[warm_lib.WarmStart] = None) -> SearchResult:
        """Runs (or resumes) the search and returns the final within-budget MES.

        ``warm_start``: the previous run's MES and controller (``trainer_module.search.warm_start``);
        a fresh search restores that controller when it fits and offers the projected MES
        to the final selection.
        """
        if self.config.task == "ranking":
            _check_group_batch(val_ds, self.config.group_size)
        # A fresh search starts from the previous controller; a checkpoint restored next wins.
        self._warm = None if warm_start is None else warm_lib.project(self.space, warm_start.spec)
        if warm_start is not None and int(self.step.numpy()) == 0:
            warm_lib.restore_controller(self.controller, self.space, warm_start.controller_dir)
        loop = ps_loop if cluster.is_parameter_server(self.strategy) else local_loop
        checkpointer = self.checkpointer(checkpoint_dir, log_dir, on_step)
        with checkpointer.preemptible():
            out = loop.run(self.steps, train_ds, val_ds, checkpointer)
        return self.result(out.history, out.final_batches)

    def result(self, history=(), val_batches=()) -> SearchResult:
        """The emitted MES (always within budget; ``final_selection.choose``), plus the
        history and the controller's final probabilities."""
        actions, info = selection.choose(self.space, self.config, self.controller,
                                         self.steps.scores_many, val_batches, self._warm,
                                         examples=lambda y: sum(_batch_len(y)))
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
        config = config.for_train_examples(train_examples, local_loop.static_batch(train_ds) or 1)
    search = NeuralInputSearch(space, dataset, config, num_labels, strategy, cost_terms)
    result = search.run(train_ds, val_ds, checkpoint_dir, log_dir, on_step, warm_start)
    if controller_dir:
        warm_lib.save_controller(search.controller, search.space, controller_dir)
    return result
