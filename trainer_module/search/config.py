"""Configuration and result records of a NIS search (JSON round-trip).

Example::

    cfg = SearchConfig.from_dict({"warmup_steps": 100, "search_steps": 300},
                                 task=dataset_config.task)
    SearchConfig.from_json(cfg.to_json()) == cfg

Every option is type-checked when the record is built (``config_fields``): a string, a
bool for a number or a fraction for an integer is a one-line ``ValueError`` naming it.
"""
from __future__ import annotations

import dataclasses
import json
import math
from typing import Any, Dict, List, Mapping, Optional, Tuple

from trainer_module.config_fields import check_at_least, check_choice, check_fields
from trainer_module.data.features import TASKS, check_repeated_task
from trainer_module.defaults import DEFAULT_HIDDEN_UNITS
from trainer_module.model.optimizers import DEFAULT_OPTIMIZER, OPTIMIZERS
from trainer_module.spec.mes import ModelSpec

DECISION_ORDERS = ("feature", "random")
WARM_START_MODES = ("off", "on", "auto")
PRUNE_MODES = ("auto", "on", "off")
SCALED_WARMUP_SHARE = 0.5  # warm-up share of a search scaled up to search_epochs


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """Knobs of the search; defaults are the ones users get.

    Where a default differs from the NIS paper or from the obvious choice, the entry in
    ``docs/decisions.md`` named below says why and what measurement decided it.

    Attributes:
      task: "ranking" (reward = ROC-AUC per group) or "retrieval" (Sampled Recall@1); not a
        search option of its own: the dataset config declares it and ``from_dict`` copies it.
      warmup_steps: main-model steps under uniform random choices, controller frozen.
      search_steps: main-model steps after warm-up under the controller's choices, every
        ``controller_every``-th followed by a controller step.
      controller_every: main-model steps per controller step after warm-up (the paper: 1). A
        controller step scores ``controller_batch_size`` validation examples and costs several
        main-model steps (docs/decisions.md#controller-every).
      search_epochs: the least number of passes over the train split the search makes: when
        ``run_search`` (or ``for_train_examples``) knows the split's size and
        ``warmup_steps + search_steps`` batches are fewer, the search grows to that many steps
        (``scaled_warmup_share`` of them warm-up); 0 keeps the step counts fixed
        (docs/decisions.md#search-length).
      scaled_warmup_share: the warm-up's share of a search scaled up to ``search_epochs``
        (None: the share ``warmup_steps`` has in the step counts). A longer warm-up trains the
        wide blocks of large tables before the controller prices them; fixed-length searches
        are unaffected (docs/decisions.md#warmup-share).
      group_size: ranking examples per controller choice and per AUC reward (a).
      groups_per_step: ranking: AUC rewards per controller step, so the controller's
        default batch is ``group_size * groups_per_step`` validation examples
        (docs/decisions.md#ranking-reward).
      retrieval_group_size: retrieval: consecutive examples that share one sampled
        configuration, in the main-model and in the controller step; the controller's reward
        is their mean Sampled Recall@1. Larger groups make the search faster and the reward
        coarser (docs/decisions.md#retrieval-group-size).
      num_negatives: retrieval negatives for Sampled Recall@1 (capped at labels - 1; the paper
        samples 5,000, docs/decisions.md#num-negatives).
      learning_rate: main model (supernet) learning rate.
      optimizer: main model (supernet) optimizer, one of ``optimizers.OPTIMIZERS``:
        "lazy_adam" updates only the embedding rows (and their moments) a batch touches;
        "adam" is Keras' Adam, which decays the moments of every row on every step; "auto" is
        lazy Adam once a table has more than ``optimizers.LAZY_ADAM_ROWS`` rows, else Adam
        (docs/decisions.md#lazy-adam).
      controller_learning_rate: controller + baseline Adam learning rate (5e-3 before the
        paired rewards; together with ``paired_rewards`` docs/decisions.md#paired-rewards).
      entropy_weight: entropy bonus of the policy gradient.
      supernet_sampling: the choices the supernet trains under after the warm-up: "controller"
        (the paper: the controller's samples) or "uniform" (every configuration alike, as
        in the warm-up, so the supernet keeps ranking configurations the policy left).
      advantage_normalization: divide each controller step's advantages by the spread of its
        rewards, so reward differences of any scale move the policy alike (the paper: raw
        advantages).
      paired_rewards: ranking: a controller step scores each of its sampled configurations on
        the whole validation batch (all its groups of ``group_size``; the reward is the mean
        of their AUCs), so the configurations of a step are compared on the same examples.
        False scores each configuration on a group of its own, as the paper does, where
        which examples a group drew outweighs the differences between configurations
        (docs/decisions.md#paired-rewards). Scoring costs one validation forward pass per
        configuration. Retrieval rewards are per example either way.
      controller_units: LSTM width of controller and baseline.
      hidden_units: ReLU tower of the main model.
      log_every: steps between progress rows / TensorBoard points.
      checkpoint_every: steps between checkpoints.
      steps_per_call: single-machine search: steps run in one compiled ``tf.while_loop``
        (``search.loops.local``, as Keras' ``steps_per_execution``), up to the next log or
        checkpoint step; the updates are those of one step per call (1)
        (docs/decisions.md#steps-per-call).
      seed: seed of every random choice of the search.
      final_candidates: configurations sampled from the final controller (plus its greedy
        choice) that are scored on validation data; the best one is emitted (ENAS-style
        selection). 0 emits the most probable configuration, the paper's converged choice
        (docs/decisions.md#final-selection).
      final_random_candidates: random within-budget configurations (``budget.random_feasible``)
        scored beside the controller's samples in the final selection (only when
        ``final_candidates`` > 0), so a configuration the controller does not reach but the
        supernet rates higher can still be emitted (docs/decisions.md#random-candidates).
      final_eval_batches: validation batches the finalists are scored on; all candidates are
        screened on the first quarter of them, the best eighth go on (``final_selection.race``).
      fill_budget: SE: widen the emitted configuration into the budget it leaves unused
        (``budget.widen_to_budget``). Opt-in (docs/decisions.md#fill-budget).
      budget_masking: the controller samples only configurations within the budget (categories
        that would overshoot the remaining budget get probability 0), so the memory part of the
        cost loss is always 0; False samples freely and relies on the cost loss alone, as the
        paper does (docs/decisions.md#budget-masking). Either way the emitted configuration is
        within the budget.
      decision_order: "feature" (the features in the dataset config's order, each feature's
        decisions together) or "random" (every sampled configuration decides the features in
        its own random order; greedy choices use the feature order). Under budget masking a
        fixed order lets the first features spend a tight budget (docs/decisions.md#decision-order).
      logit_bound: the controller's logits are squashed to ``(-logit_bound, logit_bound)`` by a
        scaled ``tanh`` (ENAS' ``tanh_constant``); 0 leaves them unbounded, as in the paper
        (docs/decisions.md#logit-bound).
      budget_input: every controller (and baseline) step is also fed the budget share spent by
        the choices before it; False feeds the previous choice alone, as the paper's
        controller does (docs/decisions.md#budget-input).
      prune_widths: drop a feature's dim chunks that no within-budget configuration uses
        (``SearchSpace.within_budget_widths``) before the supernet is built; the feasible
        configurations stay the same. "auto" prunes the features with more than
        ``optimizers.LAZY_ADAM_ROWS`` ids, "on" every feature, "off" keeps the paper's
        ``d = 32 * ceil(v^0.35 / 32)`` columns (docs/decisions.md#width-pruning).
      memory_limit_bytes: the most bytes the memory plan (``memory_plan.plan``: supernet,
        its optimizer slots and the final model with its slots, an upper bound) may need;
        the search stops with an error before training when it needs more. None: a share
        (``memory_plan.DEFAULT_RAM_FRACTION``) of this machine's physical memory; 0: no check.
      warm_start: a re-run's search starts from the MES and controller of the pipeline's
        latest blessed model (``trainer_module.search.warm_start``): "off"; "on" (fails when that
        model records no MES); "auto" (searches cold then). A run with no blessed model yet
        searches cold. In the pipeline "on"/"auto" also wire that model into the search
        (docs/decisions.md#warm-start).
      warm_start_search_steps: ``search_steps`` of a warm search (None: ``search_steps``).
    """

    task: str = "ranking"
    warmup_steps: int = 200
    search_steps: int = 1200
    controller_every: int = 4
    search_epochs: float = 0.5
    scaled_warmup_share: Optional[float] = SCALED_WARMUP_SHARE
    group_size: int = 100
    groups_per_step: int = 20
    retrieval_group_size: int = 1
    num_negatives: int = 20
    learning_rate: float = 1e-3
    optimizer: str = DEFAULT_OPTIMIZER
    controller_learning_rate: float = 5e-2
    entropy_weight: float = 1e-2
    advantage_normalization: bool = False
    paired_rewards: bool = True
    supernet_sampling: str = "controller"
    controller_units: int = 64
    hidden_units: Tuple[int, ...] = DEFAULT_HIDDEN_UNITS
    log_every: int = 50
    checkpoint_every: int = 100
    steps_per_call: int = 64
    seed: int = 0
    budget_masking: bool = True
    decision_order: str = "feature"
    final_candidates: int = 128
    final_eval_batches: int = 8
    final_random_candidates: int = 128
    fill_budget: bool = False
    logit_bound: float = 2.5
    budget_input: bool = True
    prune_widths: str = "auto"
    memory_limit_bytes: Optional[int] = None
    warm_start: str = "off"
    warm_start_search_steps: Optional[int] = None

    def __post_init__(self):
        check_fields(self, label=lambda name: f"search option {name!r}")
        check_choice("task", self.task, TASKS)
        for name in ("group_size", "groups_per_step", "retrieval_group_size", "num_negatives",
                     "log_every", "checkpoint_every", "controller_every", "steps_per_call"):
            check_at_least(name, getattr(self, name), 1)
        check_choice("optimizer", self.optimizer, OPTIMIZERS)
        check_choice("supernet_sampling", self.supernet_sampling, ("controller", "uniform"))
        check_choice("decision_order", self.decision_order, DECISION_ORDERS)
        check_choice("prune_widths", self.prune_widths, PRUNE_MODES)
        check_choice("warm_start", self.warm_start, WARM_START_MODES)
        if self.scaled_warmup_share is not None and not 0.0 <= self.scaled_warmup_share < 1.0:
            raise ValueError("scaled_warmup_share must be in [0, 1) or None, got "
                             f"{self.scaled_warmup_share}")
        for name in ("warmup_steps", "search_steps", "final_candidates", "final_eval_batches",
                     "final_random_candidates", "logit_bound", "search_epochs",
                     "memory_limit_bytes", "warm_start_search_steps"):
            check_at_least(name, getattr(self, name), 0)
        for name in ("learning_rate", "controller_learning_rate"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, got {getattr(self, name)!r}")
        if any(u < 1 for u in self.hidden_units):
            raise ValueError(f"hidden_units must all be >= 1, got {list(self.hidden_units)}")

    def controller_batch_size(self, train_batch_size: int) -> int:
        """Default validation batch of a controller step: whole AUC groups, or one reward per example."""
        if self.task == "ranking":
            return self.group_size * self.groups_per_step
        return int(train_batch_size)

    def for_train_examples(self, train_examples: int, batch_size: int) -> "SearchConfig":
        """This config with its length scaled to ``search_epochs`` passes over a train split.

        When ``search_epochs * train_examples / batch_size`` batches are more than
        ``warmup_steps + search_steps``, the search grows to that many steps, of which
        ``scaled_warmup_share`` (None: the share ``warmup_steps`` has) are warm-up; otherwise
        (small splits, or ``search_epochs=0``) the config is returned as is.
        """
        want = math.ceil(self.search_epochs * max(0, int(train_examples)) / max(1, batch_size))
        total = self.warmup_steps + self.search_steps
        if want <= total:
            return self
        if self.scaled_warmup_share is None:
            warmup = round(self.warmup_steps * want / total)
        else:
            warmup = round(self.scaled_warmup_share * want)
        return dataclasses.replace(self, warmup_steps=warmup, search_steps=want - warmup)

    def is_controller_step(self, step: int) -> bool:
        """Whether loop step ``step`` (0-based, warm-up included) updates the controller."""
        return step >= self.warmup_steps and (step - self.warmup_steps) % self.controller_every == 0

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], task: Optional[str] = None) -> "SearchConfig":
        """A SearchConfig from JSON-like options, each checked by name and type.

        Args:
          d: option name -> value (a subset of the fields; the rest keep their defaults).
          task: the dataset config's task, where the task is declared; the result's task.
            The options may repeat it (older configs, ``to_json`` output) but not name
            another. None (a record read back on its own) keeps the options' task.

        Raises:
          ValueError: one line naming an unknown option (and the accepted ones), a value of
            the wrong type or range, or a task that differs from ``task``.
        """
        if not isinstance(d, Mapping):
            raise ValueError(f"search options must be a JSON object, got {d!r}")
        fields = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(d) - set(fields))
        if unknown:
            raise ValueError(f"unknown search option(s) {unknown}; accepted: "
                             f"{', '.join(sorted(fields))}")
        if task is None:
            return cls(**d)
        check_repeated_task("search options", d.get("task"), task)
        return cls(**{**d, "task": task})

    @classmethod
    def from_json(cls, text: str, task: Optional[str] = None) -> "SearchConfig":
        """``from_dict`` of a JSON object (e.g. ``to_json``'s output)."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"search options are not valid JSON: {e}") from e
        return cls.from_dict(d, task)


@dataclasses.dataclass
class SearchResult:
    """What a search emits: the MES, the logged history, final controller probabilities and
    the memory plan it was checked against (``memory_plan.plan``, in bytes)."""

    spec: ModelSpec
    history: List[Dict[str, Any]]
    probabilities: Dict[str, List[List[float]]]
    memory_plan: Dict[str, int] = dataclasses.field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"spec": self.spec.to_dict(), "history": self.history,
                           "probabilities": self.probabilities,
                           "memory_plan": self.memory_plan}, indent=2)

    @classmethod
    def from_json(cls, text: str) -> "SearchResult":
        d = json.loads(text)
        return cls(ModelSpec.from_dict(d["spec"]), d["history"], d["probabilities"],
                   d.get("memory_plan", {}))
