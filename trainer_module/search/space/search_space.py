"""The NIS search space: every feature's Embedding Blocks, the budget and the mode.

``SearchSpace`` strings the features' choices (``feature_space.FeatureSearchSpace``:
blocks, level vectors, costs, MES conversion) into the controller's decisions and
prices and realises full configurations.

Example::

    space = SearchSpace.from_vocab_sizes({"user_id": 943, "item_id": 1682}, budget=8_000)
    space.decision_sizes()     # -> [6] * 12: per feature, 6 dim chunks x (5 row blocks or none)
    space.cost(actions)        # floats of one configuration (one int per decision)
    space.to_spec(actions)     # the ModelSpec (MES) it realises
"""
from __future__ import annotations

import dataclasses
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from trainer_module.search.space.feature import (DEFAULT_VOCAB_FRACTIONS, FeatureSearchSpace,  # noqa: F401
                                          default_dim, geometric_dim_chunks)
from trainer_module.spec.mes import MODES, ModelSpec, check_accounting

__all__ = ["DEFAULT_VOCAB_FRACTIONS", "FeatureSearchSpace", "SearchSpace", "default_dim",
           "geometric_dim_chunks"]


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """All features' Embedding Blocks plus the budget, mode and accounting of the search.

    ``accounting`` says what the budget counts (``spec.ACCOUNTINGS``): "exact" (tables + ME
    projections, every embedding float the retrained model serves) or "paper_tables_only"
    (the paper's count); the search's masks, cost loss and final selection and the
    emitted MES all use it.
    """

    features: Tuple[FeatureSearchSpace, ...]
    budget: int
    mode: str = "ME"
    accounting: str = "exact"

    def __post_init__(self):
        object.__setattr__(self, "features", tuple(self.features))
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        check_accounting(self.accounting)
        if isinstance(self.budget, bool) or not isinstance(self.budget, (int, np.integer)) \
                or self.budget <= 0:
            raise ValueError(f"budget must be a positive integer number of floats, got {self.budget!r}")
        if not self.features:
            raise ValueError("the search space has no features")
        names = [f.name for f in self.features]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate feature name(s) in the search space: {dup}")

    @classmethod
    def from_vocab_sizes(cls, vocab_sizes: Mapping[str, int], budget: int, mode: str = "ME",
                         overrides: Optional[Mapping[str, Mapping]] = None,
                         accounting: str = "exact") -> "SearchSpace":
        """Builds the space with paper defaults, ``overrides[name]`` replacing any field."""
        overrides = dict(overrides or {})
        unknown = sorted(set(overrides) - set(vocab_sizes))
        if unknown:
            raise ValueError(f"search-space overrides name unknown feature(s) {unknown}; "
                             f"known: {sorted(vocab_sizes)}")
        feats = []
        for name, v in vocab_sizes.items():
            kw = dict(overrides.get(name, {}))
            bad = sorted(set(kw) - {"vocab_fractions", "dim", "dim_chunks", "num_dim_chunks"})
            if bad:
                raise ValueError(f"feature {name!r}: unknown search-space option(s) {bad}")
            feats.append(FeatureSearchSpace(name=name, vocab_size=v, **kw))
        return cls(features=tuple(feats), budget=budget, mode=mode, accounting=accounting)

    @property
    def names(self) -> List[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> FeatureSearchSpace:
        for f in self.features:
            if f.name == name:
                return f
        raise ValueError(f"unknown feature {name!r}; known: {self.names}")

    def decision_sizes(self) -> List[int]:
        """Number of categories of every controller decision, features in order."""
        return [n for f in self.features for n in f.num_categories(self.mode)]

    def decision_costs(self) -> List[List[int]]:
        """Table floats of every category of every decision (additive). With "exact" ME
        accounting a configuration also pays its projections: price it with ``cost``, or
        its decisions with ``increment_costs``."""
        return [c for f in self.features for c in f.decision_costs(self.mode)]

    def decision_slices(self) -> List[slice]:
        """Which decisions belong to each feature."""
        out, i = [], 0
        for f in self.features:
            k = len(f.num_categories(self.mode))
            out.append(slice(i, i + k))
            i += k
        return out

    def levels(self, actions: Sequence[int]) -> Dict[str, List[int]]:
        return {f.name: f.levels(list(actions[sl]), self.mode)
                for f, sl in zip(self.features, self.decision_slices())}

    def cost(self, actions: Sequence[int]) -> int:
        """Floats of one configuration under the space's accounting."""
        return sum(f.level_cost(lv, self.accounting)
                   for f, lv in zip(self.features, self.levels(actions).values()))

    def increment_costs(self, actions: Sequence[int], decision: int) -> List[int]:
        """Floats each category of ``decision`` adds to ``actions``, given the other decisions
        of its feature as they stand in ``actions`` (undecided ones 0). Exact and >= 0 under
        either accounting (the projections grow monotonically), and category 0 is free, so
        deciding in any order and summing the increments gives ``cost``."""
        for f, sl in zip(self.features, self.decision_slices()):
            if sl.start <= decision < sl.stop:
                if self.mode == "SE":
                    return f.decision_costs("SE")[0]
                lv = [int(a) for a in actions[sl]]
                lv[decision - sl.start] = 0
                base = f.level_cost(lv, self.accounting)
                out = []
                for c in range(f.num_row_blocks + 1):
                    lv[decision - sl.start] = c
                    out.append(f.level_cost(lv, self.accounting) - base)
                return out
        raise ValueError(f"decision {decision} outside the space's {len(self.decision_sizes())}")

    def to_spec(self, actions: Sequence[int], metadata: Optional[Mapping] = None) -> ModelSpec:
        """The ModelSpec realised by one full set of controller actions."""
        feats = {f.name: f.levels_to_mes(lv)
                 for f, lv in zip(self.features, self.levels(actions).values())}
        return ModelSpec(budget=int(self.budget), mode=self.mode, features=feats,
                         metadata=dict(metadata or {}), accounting=self.accounting)

    def within_budget_widths(self, min_vocab: int = 0) -> "SearchSpace":
        """The space without the dim chunks no within-budget configuration uses, in the
        features with more than ``min_vocab`` ids (``FeatureSearchSpace.within_budget``):
        the same feasible configurations and MESs, with narrower supernet tables and fewer
        controller decisions."""
        return dataclasses.replace(self, features=tuple(
            f.within_budget(self.budget, self.mode) if f.vocab_size > min_vocab else f
            for f in self.features))

    def min_nonempty_cost(self) -> int:
        return min(f.min_nonempty_cost() for f in self.features)

    def check_feasible(self) -> None:
        """Fails before any training when no non-empty configuration fits the budget."""
        cheapest = self.min_nonempty_cost()
        if self.budget < cheapest:
            f = min(self.features, key=lambda x: x.min_nonempty_cost())
            raise ValueError(
                f"budget {self.budget} floats is smaller than the cheapest non-empty configuration "
                f"({cheapest} floats: feature {f.name!r}, {f.block_vocab[0]} items x "
                f"{min(f.dim_chunks)} dims); raise the budget or use finer vocab_fractions/dim_chunks")
