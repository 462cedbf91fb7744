"""Hand-sized Single-size Embedding baselines at a given memory budget.

* ``uniform_se_spec(vocab_sizes, budget)``: every feature keeps its whole
  vocabulary with the same width ``d = budget // sum(v)`` (the usual hand choice).
* ``uniform_se_spec(vocab_sizes, budget, dim=8)``: every feature gets width 8 and
  the most frequent items that fit, the budget split evenly (water-filling:
  what a small feature does not need goes to the others).
* ``explicit_se_spec({"item": (500, 16), ...}, budget)``: sizes given in config.

All return a ``ModelSpec`` (mode SE) that is checked against the budget.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

from trainer_module.budget import checked
from trainer_module.spec import FeatureMES, ModelSpec


def _fill_vocab(vocab_sizes: Mapping[str, int], budget: int, dim: int) -> Dict[str, int]:
    """Items per feature at width ``dim``: equal shares, leftovers passed on (water-filling)."""
    kept = {n: 0 for n in vocab_sizes}
    open_feats = [n for n, v in vocab_sizes.items() if v > 0]
    rows_left = budget // dim
    while open_feats and rows_left > 0:
        share = max(rows_left // len(open_feats), 1)
        for n in list(open_feats):
            take = min(share, vocab_sizes[n] - kept[n], rows_left)
            kept[n] += take
            rows_left -= take
            if kept[n] == vocab_sizes[n]:
                open_feats.remove(n)
            if rows_left == 0:
                break
    return kept


def uniform_se_spec(vocab_sizes: Mapping[str, int], budget: int, dim: Optional[int] = None) -> ModelSpec:
    """Uniform-width SE baseline within ``budget`` floats."""
    if budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    bad = {n: v for n, v in vocab_sizes.items() if v <= 0}
    if bad:
        raise ValueError(f"vocabulary sizes must be positive, got {bad}")
    if dim is None:
        dim = max(budget // sum(vocab_sizes.values()), 1)
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    kept = _fill_vocab(vocab_sizes, budget, dim)
    feats = {n: FeatureMES([(k, dim)] if k else []) for n, k in kept.items()}
    return checked(ModelSpec(budget=int(budget), mode="SE", features=feats,
                             metadata={"baseline": "uniform_se", "dim": int(dim)}))


def explicit_se_spec(sizes: Mapping[str, Tuple[int, int]], budget: int,
                     vocab_sizes: Optional[Mapping[str, int]] = None) -> ModelSpec:
    """SE baseline from hand-given ``(vocab_size, dim)`` per feature (``(0, 0)`` removes it)."""
    if vocab_sizes is not None:
        unknown = sorted(set(sizes) - set(vocab_sizes))
        if unknown:
            raise ValueError(f"baseline sizes name unknown feature(s) {unknown}")
        for n, (v, _) in sizes.items():
            if v > vocab_sizes[n]:
                raise ValueError(f"feature {n!r}: baseline vocab_size {v} exceeds the vocabulary "
                                 f"of {vocab_sizes[n]} items")
        sizes = {**{n: (0, 0) for n in vocab_sizes}, **dict(sizes)}
    feats = {n: FeatureMES([(v, d)] if v and d else []) for n, (v, d) in sizes.items()}
    return checked(ModelSpec(budget=int(budget), mode="SE", features=feats,
                             metadata={"baseline": "explicit_se"}))
