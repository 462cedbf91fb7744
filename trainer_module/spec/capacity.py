"""The largest model a search space holds: each feature's maximum width and the full model's floats.

The search space gives every feature a maximum embedding width ``d``: the ``dim`` of its
``search_space`` overrides, the sum of their ``dim_chunks``, or the paper's
``d = 32 * ceil(v ** 0.35 / 32)`` (``default_dim``). The *full model* keeps every item
of every feature at that width, ``sum_f v_f * d_f`` floats: the widest configuration the
search can emit, and the widest the SE baseline may train. A budget above it buys nothing
but memory, so the search, the Trainer and the BaselineTrainer cap it there
(``capped_budget``, which logs the cap), all three from the same vocabularies and
overrides, so the MES and the trainers agree on the capped budget.

``search_space`` overrides are a JSON object of feature name (or ``"*"``, every feature)
-> options (``SEARCH_SPACE_OPTIONS``); ``check_search_space`` type-checks them once.

Example::

    full_model_floats({"user": 1000, "item": 5000}, {"*": {"dim": 16}})   # 96_000
    capped_budget(10 ** 9, {"user": 1000}, None, "Trainer")               # 32_000, logged
"""
from __future__ import annotations

import math
from typing import Any, Dict, List, Mapping, Optional, Sequence

from absl import logging

from trainer_module.config_fields import check_keys, check_value

ALL_FEATURES = "*"
# Option -> type of one feature's search-space overrides (``search.feature_space``).
SEARCH_SPACE_OPTIONS = {"vocab_fractions": List[float], "dim": int, "dim_chunks": List[int],
                        "num_dim_chunks": int}
Overrides = Mapping[str, Mapping[str, Any]]


def default_dim(vocab_size: int) -> int:
    """The paper's heuristic maximum width ``d = 32 * ceil(v ** 0.35 / 32)``."""
    return 32 * math.ceil(vocab_size ** 0.35 / 32)


def check_search_space(overrides: Any, where: str = "search_space") -> Dict[str, Dict[str, Any]]:
    """The overrides as plain dicts, every option's type checked (one line naming it).

    Feature names are checked against the vocabularies later (``SearchSpace``); values'
    ranges by ``FeatureSearchSpace``.
    """
    if overrides is None:
        return {}
    if not isinstance(overrides, Mapping):
        raise ValueError(f"{where} must be a JSON object of feature -> options, got {overrides!r}")
    out = {}
    for name, options in overrides.items():
        at = f"{where}[{name!r}]"
        check_keys(at, dict(options) if isinstance(options, Mapping) else options,
                   SEARCH_SPACE_OPTIONS)
        out[str(name)] = {key: check_value(value, SEARCH_SPACE_OPTIONS[key], f"{at}[{key!r}]")
                          for key, value in options.items()}
    return out


def expand_search_space(overrides: Optional[Overrides],
                        names: Sequence[str]) -> Dict[str, Dict[str, Any]]:
    """Per-feature overrides with the ``"*"`` entry applied to every one of ``names``
    (a feature's own options win); unknown names are kept for ``SearchSpace`` to reject."""
    out = {n: dict(v) for n, v in (overrides or {}).items() if n != ALL_FEATURES}
    common = dict((overrides or {}).get(ALL_FEATURES) or {})
    if common:
        out.update({n: {**common, **out.get(n, {})} for n in names})
    return out


def max_width(vocab_size: int, options: Optional[Mapping[str, Any]] = None) -> int:
    """A feature's maximum width in the search space (``FeatureSearchSpace.dim``)."""
    options = options or {}
    if options.get("dim_chunks"):
        return int(sum(options["dim_chunks"]))
    if options.get("dim") is not None:
        return int(options["dim"])
    return default_dim(int(vocab_size))


def max_widths(vocab_sizes: Mapping[str, int],
               overrides: Optional[Overrides] = None) -> Dict[str, int]:
    """Every feature's maximum width under the (unexpanded) ``search_space`` overrides."""
    per_feature = expand_search_space(overrides, list(vocab_sizes))
    return {n: max_width(v, per_feature.get(n)) for n, v in vocab_sizes.items()}


def full_model_floats(vocab_sizes: Mapping[str, int], overrides: Optional[Overrides] = None) -> int:
    """Floats of the full model: every item of every feature at its maximum width."""
    widths = max_widths(vocab_sizes, overrides)
    return int(sum(int(v) * widths[n] for n, v in vocab_sizes.items()))


def capped_budget(budget: int, vocab_sizes: Mapping[str, int],
                  overrides: Optional[Overrides], who: str) -> int:
    """``budget``, or the full model's floats when the budget is above them (logged by ``who``)."""
    full = full_model_floats(vocab_sizes, overrides)
    if budget <= full or full <= 0:
        return int(budget)
    logging.warning("%s: budget %s floats is above the full model's %s floats (every item of "
                    "every feature at its search space's maximum width, %s); using %s",
                    who, f"{budget:,}", f"{full:,}", max_widths(vocab_sizes, overrides),
                    f"{full:,}")
    return full
