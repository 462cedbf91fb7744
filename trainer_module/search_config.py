"""Configuration and result records of a NIS search (JSON round-trip).

Example::

    cfg = SearchConfig(task="retrieval", warmup_steps=100, search_steps=300)
    SearchConfig.from_json(cfg.to_json()) == cfg
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional, Tuple

from trainer_module.optimizers import DEFAULT_OPTIMIZER, OPTIMIZERS
from trainer_module.spec import ModelSpec

DECISION_ORDERS = ("feature", "chunk", "random")


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """Knobs of the search; defaults are the ones users get.

    Attributes:
      task: "ranking" (reward = ROC-AUC per group) or "retrieval" (Sampled Recall@1).
      warmup_steps: main-model steps under uniform random choices, controller frozen.
      search_steps: alternating main-model / controller steps after warm-up.
      group_size: ranking examples per controller choice and per AUC reward (a).
      groups_per_step: ranking: AUC rewards per controller step, so the controller's
        default batch is ``group_size * groups_per_step`` validation examples.
      retrieval_group_size: retrieval: consecutive examples that share one sampled
        configuration, in the main-model and in the controller step; the controller's reward
        is their mean Sampled Recall@1. 1 (per example) is the default: 4 made ML-100K
        retrieval searches 2.7x faster on CPU (the controller pass runs over 4x fewer rows)
        but lowered Recall@1 x100 of the retrained NIS-ME at 2% and 8% (two searches each;
        BENCHMARKS.md findings).
      num_negatives: retrieval negatives for Sampled Recall@1 (capped at labels - 1).
      learning_rate: main model (supernet) learning rate.
      optimizer: main model (supernet) optimizer, one of ``optimizers.OPTIMIZERS``:
        "lazy_adam" updates only the embedding rows (and their moments) a batch touches,
        so a step's cost does not grow with the tables; "adam" is Keras' Adam, which
        decays the moments of every row on every step.
      controller_learning_rate: controller + baseline Adam learning rate.
      entropy_weight: entropy bonus of the policy gradient.
      controller_units: LSTM width of controller and baseline.
      hidden_units: ReLU tower of the main model.
      log_every: steps between progress rows / TensorBoard points.
      checkpoint_every: steps between checkpoints.
      seed: seed of every random choice of the search.
      final_candidates: configurations sampled from the final controller (plus its greedy
        choice) that are scored on validation data; the best one is emitted (ENAS-style
        selection; 0 emits the most probable configuration). 256 (with 8 batches) instead
        of 32 (with 4) raised ML-100K ranking AUC at 2% by 0.4 pt in feature order and 1.0 pt
        in random order (BENCHMARKS.md findings).
      final_random_candidates: random within-budget configurations (``budget.random_feasible``:
        features in a random order, each decision uniform among the categories that fit)
        scored beside the controller's samples in the final selection (0: none; only when
        ``final_candidates`` > 0, which turns the final selection on). On ML-100K
        retrieval at 2% the feature-order controller starves ``history``, while its own
        supernet rates configurations that feed it higher: 256 of them raised Recall@1 x100 of
        the same trained search from 0.31 to 0.58; ranking picks were unchanged
        (BENCHMARKS.md findings).
      final_eval_batches: validation batches the finalists are scored on; all candidates are
        screened on the first quarter of them, the best eighth go on (``selection.race``).
      fill_budget: SE: widen the emitted configuration into the budget it leaves unused
        (``budget.widen_to_budget``: every kept feature one width step at a time, round-robin,
        while it fits). Opt-in: of the benchmark's NIS-SE MESs, six used 13-73% of their
        budgets; widened, synthetic 8% AUC x100 rose from 70.73 to 72.54 and the other five
        stayed within the seed spread (BENCHMARKS.md findings).
      budget_masking: the controller samples only configurations within the budget (each
        decision's categories that would overshoot the remaining budget get probability 0),
        so the memory part of the cost loss is always 0; False samples freely and relies on
        the paper's cost loss alone.
      decision_order: "feature" (all of a feature's decisions, then the next feature's),
        "chunk" (ME: chunk t of every feature before any chunk t + 1) or "random" (every
        sampled configuration decides the features in its own random order, a feature's
        decisions together; greedy choices use the feature order). Under budget masking a
        fixed order lets the first features spend a tight budget before the last are decided
        (see BENCHMARKS.md findings).
      memory_limit_bytes: the most bytes the memory plan (``memory_plan.plan``: supernet,
        its optimizer slots and the final model with its slots, an upper bound) may need;
        the search stops with an error before training when it needs more. None: a share
        (``memory_plan.DEFAULT_RAM_FRACTION``) of this machine's physical memory; 0: no check.
      budget_reserve: with budget masking, every feature not decided yet holds this many
        times its cheapest non-empty choice (one row block x the narrowest chunk) of the
        budget, which the features decided before it cannot spend (at most half the budget
        is held in all); 0 holds nothing.
    """

    task: str = "ranking"
    warmup_steps: int = 200
    search_steps: int = 1200
    group_size: int = 100
    groups_per_step: int = 20
    retrieval_group_size: int = 1
    num_negatives: int = 20
    learning_rate: float = 1e-3
    optimizer: str = DEFAULT_OPTIMIZER
    controller_learning_rate: float = 5e-3
    entropy_weight: float = 1e-2
    controller_units: int = 64
    hidden_units: Tuple[int, ...] = (256, 128, 64)
    log_every: int = 50
    checkpoint_every: int = 100
    seed: int = 0
    budget_masking: bool = True
    decision_order: str = "feature"
    budget_reserve: float = 0.0
    final_candidates: int = 256
    final_eval_batches: int = 8
    final_random_candidates: int = 256
    fill_budget: bool = False
    memory_limit_bytes: Optional[int] = None

    def __post_init__(self):
        object.__setattr__(self, "hidden_units", tuple(int(u) for u in self.hidden_units))
        if self.task not in ("ranking", "retrieval"):
            raise ValueError(f"task must be 'ranking' or 'retrieval', got {self.task!r}")
        for name in ("group_size", "groups_per_step", "retrieval_group_size", "num_negatives",
                     "log_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.decision_order not in DECISION_ORDERS:
            raise ValueError(f"decision_order must be one of {DECISION_ORDERS}, "
                             f"got {self.decision_order!r}")
        if self.memory_limit_bytes is not None and self.memory_limit_bytes < 0:
            raise ValueError(f"memory_limit_bytes must be >= 0 or None, got {self.memory_limit_bytes}")
        for name in ("warmup_steps", "search_steps", "final_candidates", "final_eval_batches",
                     "final_random_candidates", "budget_reserve"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")

    def controller_batch_size(self, train_batch_size: int) -> int:
        """Default validation batch of a controller step: whole AUC groups, or one reward per example."""
        if self.task == "ranking":
            return self.group_size * self.groups_per_step
        return int(train_batch_size)

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "SearchConfig":
        d = json.loads(text)
        unknown = sorted(set(d) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise ValueError(f"unknown search option(s) {unknown}")
        return cls(**d)


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
