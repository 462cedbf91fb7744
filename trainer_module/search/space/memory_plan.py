"""Memory plan of a search: bytes of parameters and optimizer slots, checked before training.

From the vocabularies and the search space alone (nothing is built), ``plan`` counts the
float32 bytes of

* the supernet: every feature's ``v x d`` block table and ``d x d`` projections, the ReLU
  tower over the concatenated ``sum d`` inputs and, for retrieval, the softmax's
  ``num_labels`` rows;
* the supernet's optimizer slots (Adam and lazy Adam keep two per parameter);
* an upper bound on the retrained final model with its slots: at most ``budget`` table floats,
  ME projections of at most ``(S - 1) d x d`` per feature, the same tower and softmax.

Activations, input pipelines and the controller's few thousand floats are not counted. ``check``
raises one line naming what to change when the total passes the limit, so a search that
cannot fit stops before anything trains instead of running out of memory later.

Example::

    memory = plan(space, config.hidden_units, num_labels=None)
    check(memory, config.memory_limit_bytes)
    print(describe(memory))
"""
from __future__ import annotations

import os
from typing import Dict, Optional, Sequence

from absl import logging

from trainer_module.search.space import SearchSpace

BYTES_PER_FLOAT = 4
SLOTS_PER_PARAMETER = 2  # Adam's (and lazy Adam's) first and second moments
DEFAULT_RAM_FRACTION = 0.8  # memory_limit_bytes=None: this share of the machine's RAM


def _dense_params(inputs: int, hidden_units: Sequence[int], num_labels: Optional[int]) -> int:
    """Floats of the tower over ``inputs`` features and its output (unit or softmax rows)."""
    total, width = 0, inputs
    for units in hidden_units:
        total += width * units + units
        width = units
    return total + (num_labels * (width + 1) if num_labels else width + 1)


def plan(space: SearchSpace, hidden_units: Sequence[int],
         num_labels: Optional[int] = None) -> Dict[str, int]:
    """Bytes the search and the retrained model need for parameters and optimizer slots."""
    dense = _dense_params(sum(f.dim for f in space.features), hidden_units, num_labels)
    supernet = sum(f.vocab_size * f.dim + f.dim * f.dim for f in space.features) + dense
    projections = (sum((f.num_row_blocks - 1) * f.dim * f.dim for f in space.features)
                   if space.mode == "ME" else 0)
    final = space.budget + projections + dense
    b = BYTES_PER_FLOAT
    out = {"supernet_bytes": supernet * b,
           "supernet_slot_bytes": SLOTS_PER_PARAMETER * supernet * b,
           "final_model_bytes": (1 + SLOTS_PER_PARAMETER) * final * b}
    out["total_bytes"] = sum(out.values())
    return out


def machine_memory_bytes() -> int:
    """Physical memory of this machine in bytes (0 when the platform does not say)."""
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return 0


def resolve_limit(limit_bytes: Optional[int]) -> int:
    """The limit in bytes: ``None`` = ``DEFAULT_RAM_FRACTION`` of RAM, 0 = no check."""
    if limit_bytes is None:
        return int(DEFAULT_RAM_FRACTION * machine_memory_bytes())
    return int(limit_bytes)


def _gib(n: int) -> str:
    return f"{n / 2 ** 30:.2f} GiB"


def describe(memory: Dict[str, int]) -> str:
    """One line: the plan's total and its parts."""
    return (f"memory plan: {_gib(memory['total_bytes'])} = supernet {_gib(memory['supernet_bytes'])}"
            f" + optimizer slots {_gib(memory['supernet_slot_bytes'])} + final model with slots"
            f" up to {_gib(memory['final_model_bytes'])}")


def check(memory: Dict[str, int], limit_bytes: Optional[int]) -> Dict[str, int]:
    """``memory`` with its ``limit_bytes``; raises ``ValueError`` when the total exceeds it."""
    limit = resolve_limit(limit_bytes)
    if limit and memory["total_bytes"] > limit:
        raise ValueError(
            f"{describe(memory)} exceeds memory_limit_bytes={limit} ({_gib(limit)}): lower the "
            f"budget, the features' maximum width or vocabulary (search-space 'dim', "
            f"'top_k'), or train the tables on a strategy with more memory and raise "
            f"SearchConfig.memory_limit_bytes (0 turns this check off)")
    return {**memory, "limit_bytes": limit}


def checked_plan(space: SearchSpace, hidden_units: Sequence[int], num_labels: Optional[int],
                 limit_bytes: Optional[int]) -> Dict[str, int]:
    """``plan`` checked against ``limit_bytes`` (see ``check``) and logged."""
    memory = check(plan(space, hidden_units, num_labels), limit_bytes)
    logging.info("NIS %s (limit %s)", describe(memory),
                 _gib(memory["limit_bytes"]) if memory["limit_bytes"] else "off")
    return memory
