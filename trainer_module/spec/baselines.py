"""Hand-sized Single-size Embedding baselines at a given memory budget.

* ``uniform_se_spec(vocab_sizes, budget)``: every feature gets the same width, the one
  whose water-filled vocabularies use the budget best (``fair_width``: ``budget / sum(v)``
  rounded down keeps every item, rounded up keeps the most frequent ones and fills the
  budget), at most ``max_dim`` (the search space's maximum width) when given.
* ``uniform_se_spec(vocab_sizes, budget, dim=8)``: every feature gets width 8 and
  the most frequent items that fit, the budget split evenly (water-filling:
  what a small feature does not need goes to the others).
* ``per_feature_se_spec(vocab_sizes, budget, {"item": 16, "user": 4})``: a width per
  feature, vocabularies water-filled the same way (hand tuning feature by feature).
* ``explicit_se_spec({"item": (500, 16), ...}, budget)``: sizes given in config.

All return a ``ModelSpec`` (mode SE) that is checked against the budget.
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Tuple

from absl import logging

from trainer_module.spec.mes import checked
from trainer_module.spec.mes import FeatureMES, ModelSpec


def _fill_vocab(vocab_sizes: Mapping[str, int], budget: int, dims: Mapping[str, int]) -> Dict[str, int]:
    """Items per feature at widths ``dims``: equal float shares of the budget, what a feature
    does not need passed on to the others (water-filling); most frequent items first."""
    kept = {n: 0 for n in vocab_sizes}
    open_feats = [n for n, v in vocab_sizes.items() if v > 0 and dims[n] > 0]
    floats_left = budget
    while open_feats:
        share = floats_left // len(open_feats)
        for n in list(open_feats):
            take = min(max(share // dims[n], 1), vocab_sizes[n] - kept[n], floats_left // dims[n])
            kept[n] += take
            floats_left -= take * dims[n]
            if take == 0 or kept[n] == vocab_sizes[n]:
                open_feats.remove(n)
    return kept


def _check(vocab_sizes: Mapping[str, int], budget: int) -> None:
    if budget <= 0:
        raise ValueError(f"budget must be positive, got {budget}")
    bad = {n: v for n, v in vocab_sizes.items() if v <= 0}
    if bad:
        raise ValueError(f"vocabulary sizes must be positive, got {bad}")


def fair_width(vocab_sizes: Mapping[str, int], budget: int, max_dim: Optional[int] = None) -> int:
    """The uniform width whose water-filled vocabularies use ``budget`` best.

    ``budget // sum(v)`` rounded down can leave up to half the budget unused (1.9 floats per
    item gives width 1); one width wider, the most frequent items of every feature fill it.
    Of the two (at most ``max_dim``), the one whose tables hold more floats wins; a tie goes
    to the narrower, which keeps more items. See docs/decisions.md#fair-baseline.
    """
    total = sum(vocab_sizes.values())
    widths = {max(budget // total, 1), max(-(-budget // total), 1)}
    if max_dim is not None:
        widths = {min(w, int(max_dim)) for w in widths}

    def used(width: int) -> int:
        return sum(_fill_vocab(vocab_sizes, budget, {n: width for n in vocab_sizes}).values()) * width

    return max(sorted(widths), key=lambda w: (used(w), -w))


def uniform_se_spec(vocab_sizes: Mapping[str, int], budget: int, dim: Optional[int] = None,
                    max_dim: Optional[int] = None) -> ModelSpec:
    """Uniform-width SE baseline within ``budget`` floats.

    Args:
      vocab_sizes: feature -> vocabulary size.
      budget: floats the tables may hold.
      dim: the width (None: ``fair_width``, the one whose water-filled vocabularies use the
        budget best).
      max_dim: the widest embedding allowed (the search space's maximum width,
        ``capacity.max_widths``); a wider ``dim`` is narrowed to it, and the unused budget
        stays unused, so a budget far above the full model never builds a huge table.
    """
    _check(vocab_sizes, budget)
    if dim is None:
        dim = fair_width(vocab_sizes, budget, max_dim)
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    if max_dim is not None and dim > max_dim:
        logging.warning("SE baseline: width %d is above the search space's maximum width %d; "
                        "using %d", dim, max_dim, max_dim)
        dim = int(max_dim)
    kept = _fill_vocab(vocab_sizes, budget, {n: dim for n in vocab_sizes})
    feats = {n: FeatureMES([(k, dim)] if k else []) for n, k in kept.items()}
    return checked(ModelSpec(budget=int(budget), mode="SE", features=feats,
                             metadata={"baseline": "uniform_se", "dim": int(dim)}))


def per_feature_se_spec(vocab_sizes: Mapping[str, int], budget: int,
                        dims: Mapping[str, int]) -> ModelSpec:
    """SE baseline with a hand-given width per feature (0 removes it); the vocabularies are
    water-filled within ``budget`` (the most frequent items that fit)."""
    _check(vocab_sizes, budget)
    missing = sorted(set(vocab_sizes) - set(dims))
    if missing:
        raise ValueError(f"per-feature widths missing for feature(s) {missing}")
    negative = {n: d for n, d in dims.items() if d < 0}
    if negative:
        raise ValueError(f"widths must be >= 0, got {negative}")
    kept = _fill_vocab(vocab_sizes, budget, dims)
    feats = {n: FeatureMES([(k, int(dims[n]))] if k else []) for n, k in kept.items()}
    return checked(ModelSpec(budget=int(budget), mode="SE", features=feats,
                             metadata={"baseline": "per_feature_se",
                                       "dims": {n: int(dims[n]) for n in vocab_sizes}}))


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
