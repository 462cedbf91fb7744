"""Multi-size Embedding Spec (MES): the search's output and the retrainer's input.

A feature's MES is a list of ``(vocab_size, dim)`` pairs ``[(v1, d1), (v2, d2), ...]``
with ``d1 >= d2 >= ... >= 1``: the first ``v1`` most frequent items get ``d1``-dim
embeddings, the next ``v2`` get ``d2``, and so on (paper, section 3.2). An empty
list removes the feature. With one pair it is a Single-size Embedding (SE).

What a spec costs (its ``accounting``): ``"exact"`` (the default) counts every
embedding float the retrained model serves, the tables ``E_m`` (``sum v_m d_m``) and
the ME projections ``P_m`` (``d_m x d1`` for ``m >= 2``); ``"paper_tables_only"``
counts the tables alone, as the paper does (its vocabularies hold millions of rows, so
the projections are negligible there; ours can hold tens). An MES JSON written before
the field existed was searched under the tables-only count and is read as such.

Example::

    spec = ModelSpec(budget=10_000, mode="ME",
                     features={"item": FeatureMES([(100, 32), (400, 8)])})
    spec.cost()            # tables 100*32 + 400*8 = 6400, projection 8*32 = 256: 6656
    ModelSpec.from_json(spec.to_json()) == spec
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Mapping, Sequence, Tuple

MODES = ("SE", "ME")
# "exact": tables + projections (every embedding float served); the paper's count: tables only.
ACCOUNTINGS = ("exact", "paper_tables_only")
# Bytes per float of the served embedding variables (float32).
SERVING_BYTES_PER_FLOAT = 4


def check_accounting(accounting: str) -> str:
    """Returns ``accounting`` if it is one of ``ACCOUNTINGS``; raises a one-line ValueError otherwise."""
    if accounting not in ACCOUNTINGS:
        raise ValueError(f"accounting must be one of {ACCOUNTINGS}, got {accounting!r}")
    return accounting


@dataclasses.dataclass(frozen=True)
class FeatureMES:
    """The MES of one feature: ``((v1, d1), ..., (vM, dM))``; empty = removed."""

    entries: Tuple[Tuple[int, int], ...] = ()

    def __init__(self, entries: Sequence[Sequence[int]] = ()):
        object.__setattr__(self, "entries", tuple((int(v), int(d)) for v, d in entries))

    def validate(self, name: str = "<feature>", max_vocab: int | None = None) -> None:
        """Raises ValueError naming ``name`` and the offending value."""
        prev_d = None
        for i, (v, d) in enumerate(self.entries):
            if v < 1:
                raise ValueError(f"feature {name!r}: entry {i} has vocab_size {v}; must be >= 1")
            if d < 1:
                raise ValueError(f"feature {name!r}: entry {i} has dim {d}; must be >= 1")
            if prev_d is not None and d > prev_d:
                raise ValueError(
                    f"feature {name!r}: dims must be non-increasing (d1 >= d2 >= ...), "
                    f"but entry {i} has dim {d} > {prev_d}")
            prev_d = d
        if max_vocab is not None and self.vocab_size > max_vocab:
            raise ValueError(f"feature {name!r}: total vocab_size {self.vocab_size} exceeds "
                             f"the feature's vocabulary of {max_vocab} items")

    @property
    def removed(self) -> bool:
        return not self.entries

    def width_at(self, row: int) -> int:
        """Embedding width of the item at frequency rank ``row`` (0 when it has none)."""
        covered = 0
        for rows, dim in self.entries:
            if row < covered + rows:
                return dim
            covered += rows
        return 0

    @property
    def vocab_size(self) -> int:
        """Total number of items that get an embedding (``sum v_m``)."""
        return sum(v for v, _ in self.entries)

    @property
    def output_dim(self) -> int:
        """Width of the feature's embedding (``d1``), 0 when removed."""
        return self.entries[0][1] if self.entries else 0

    def table_floats(self) -> int:
        """Floats in the embedding tables, ``sum v_m * d_m`` (the paper's count)."""
        return sum(v * d for v, d in self.entries)

    def projection_floats(self) -> int:
        """Floats in projections ``P_m`` (``d_m x d1``, m >= 2; ``P_1`` is the identity)."""
        return sum(d * self.output_dim for _, d in self.entries[1:])

    def cost(self, accounting: str = "exact") -> int:
        """Floats counted against the budget: tables + projections, or tables only."""
        if check_accounting(accounting) == "paper_tables_only":
            return self.table_floats()
        return self.table_floats() + self.projection_floats()

    def cost_facts(self, accounting: str = "exact") -> Dict[str, int]:
        """Table, projection and total floats (total under ``accounting``) and bytes at float32."""
        total = self.cost(accounting)
        return {"table_floats": self.table_floats(), "projection_floats": self.projection_floats(),
                "total_floats": total, "bytes": total * SERVING_BYTES_PER_FLOAT}


@dataclasses.dataclass(frozen=True)
class ModelSpec:
    """The MES of every feature plus the budget and mode it was searched under.

    Attributes:
      budget: memory budget C, total floats allowed in the embeddings (see ``accounting``).
      mode: "SE" (one pair per feature at most) or "ME".
      features: feature name -> FeatureMES (removed features keep an empty entry).
      metadata: free-form JSON-able facts (e.g. ``budget_fallback``, probabilities).
      accounting: what the budget counts: "exact" (tables + ME projections, every embedding
        float served) or "paper_tables_only" (the tables ``E_m`` alone, the paper's count).
    """

    budget: int
    mode: str
    features: Mapping[str, FeatureMES]
    metadata: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    accounting: str = "exact"

    def __post_init__(self):
        feats = {str(k): (v if isinstance(v, FeatureMES) else FeatureMES(v))
                 for k, v in dict(self.features).items()}
        object.__setattr__(self, "features", feats)
        object.__setattr__(self, "metadata", dict(self.metadata))
        self.validate()

    def validate(self) -> None:
        """Raises ValueError naming the feature or field that is wrong."""
        if not isinstance(self.budget, (int,)) or isinstance(self.budget, bool) or self.budget <= 0:
            raise ValueError(f"budget must be a positive integer number of floats, got {self.budget!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        check_accounting(self.accounting)
        for name, fmes in self.features.items():
            fmes.validate(name)
            if self.mode == "SE" and len(fmes.entries) > 1:
                raise ValueError(f"feature {name!r}: mode SE allows one (vocab_size, dim) pair, "
                                 f"got {list(fmes.entries)}")

    def cost(self) -> int:
        """Total floats the budget constrains, counted under ``self.accounting``."""
        return sum(f.cost(self.accounting) for f in self.features.values())

    def table_floats(self) -> int:
        """Floats in all embedding tables ``E_m``."""
        return sum(f.table_floats() for f in self.features.values())

    def projection_floats(self) -> int:
        """Floats in all ME projection matrices ``P_m``."""
        return sum(f.projection_floats() for f in self.features.values())

    def cost_facts(self) -> Dict[str, Any]:
        """Per feature and in total: table, projection and total floats and bytes at float32."""
        total = self.cost()
        return {"accounting": self.accounting, "bytes_per_float": SERVING_BYTES_PER_FLOAT,
                "table_floats": self.table_floats(), "projection_floats": self.projection_floats(),
                "total_floats": total, "bytes": total * SERVING_BYTES_PER_FLOAT,
                "features": {n: f.cost_facts(self.accounting) for n, f in self.features.items()}}

    def within_budget(self) -> bool:
        return self.cost() <= self.budget

    @property
    def kept_features(self) -> List[str]:
        return [n for n, f in self.features.items() if not f.removed]

    @property
    def removed_features(self) -> List[str]:
        return [n for n, f in self.features.items() if f.removed]

    def to_dict(self) -> Dict[str, Any]:
        return {
            "budget": self.budget,
            "mode": self.mode,
            "accounting": self.accounting,
            "cost": self.cost(),
            "costs": self.cost_facts(),
            "features": {n: [list(e) for e in f.entries] for n, f in self.features.items()},
            "metadata": dict(self.metadata),
        }

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelSpec":
        """The spec of an MES JSON; one without ``accounting`` (written before exact accounting
        existed) was searched under the paper's count and is read as ``"paper_tables_only"``."""
        missing = [k for k in ("budget", "mode", "features") if k not in d]
        if missing:
            raise ValueError(f"MES JSON lacks required field(s) {missing}")
        spec = cls(budget=d["budget"], mode=d["mode"],
                   features={n: FeatureMES(e) for n, e in d["features"].items()},
                   metadata=d.get("metadata", {}),
                   accounting=d.get("accounting", "paper_tables_only"))
        if "cost" in d and int(d["cost"]) != spec.cost():
            raise ValueError(f"MES JSON says cost {d['cost']} but its entries cost {spec.cost()}")
        return spec

    @classmethod
    def from_json(cls, text: str) -> "ModelSpec":
        return cls.from_dict(json.loads(text))

    def summary_rows(self) -> List[Tuple[str, str, int]]:
        """(feature, entries as text, cost under the spec's accounting) rows for reports and CLIs."""
        return [(n, "removed" if f.removed else " + ".join(f"{v}x{d}" for v, d in f.entries),
                 f.cost(self.accounting))
                for n, f in self.features.items()]


def parse_mes(text: str, path: str) -> ModelSpec:
    """``ModelSpec.from_json`` whose errors name ``path`` (empty, truncated, invalid)."""
    if not text.strip():
        raise ValueError(f"MES file {path} is empty")
    try:
        return ModelSpec.from_json(text)
    except (ValueError, KeyError, TypeError) as e:
        raise ValueError(f"MES file {path} is unreadable ({type(e).__name__}: {e})") from None


def check_mes_budget(spec: ModelSpec, path: str, budget: int | None = None,
                     source: str = "the pipeline config") -> None:
    """Raises ValueError naming ``path`` when the MES costs more than its own budget, or when
    its budget differs from ``budget`` (what ``source`` recorded): an edited ``mes.json``
    must not train a larger model. Shared by the component's ``read_mes`` and ``run_fn``."""
    if not spec.within_budget():
        raise ValueError(f"MES {path} costs {spec.cost():,} floats, over its budget of "
                         f"{spec.budget:,}; refusing to train it")
    if budget is not None and int(spec.budget) != int(budget):
        raise ValueError(f"MES {path} says budget {spec.budget:,} floats but {source} recorded "
                         f"{int(budget):,}; refusing to train it (cost {spec.cost():,})")


def checked(spec: ModelSpec) -> ModelSpec:
    """Returns ``spec`` if it is within its budget under its accounting; raises otherwise
    (never emit an over-budget MES)."""
    if spec.cost() > spec.budget:
        raise ValueError(f"refusing to emit an MES costing {spec.cost()} floats "
                         f"({spec.table_floats()} in tables, {spec.projection_floats()} in "
                         f"projections; {spec.accounting} accounting) over the budget of {spec.budget}")
    return spec
