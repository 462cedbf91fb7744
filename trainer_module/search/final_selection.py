"""ENAS-style final selection: which candidate configuration the search emits.

The search scores the controller's most probable configuration, its samples and
random within-budget configurations on held-back validation batches with its
trained supernet and emits the best one.
Scoring every candidate on every batch grows with candidates x batches, so
``race`` screens them first (successive halving, one round): all candidates on the
first quarter of the batches, then only the best eighth (at least ``min_finalists``,
and always the first candidate, the controller's most probable one) on the rest.
With 256 candidates and 8 batches that is 704 candidate-batch scores instead of 2,048.

Example::

    objectives = lambda cs, bs: [[objective(c, b) for b in bs] for c in cs]  # noqa: E731
    best, info = race(candidates, objectives, batches)
    candidates[best]   # the finalist with the best mean objective on all batches
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Sequence, Tuple

import numpy as np

# Objectives ``[len(candidates), len(batches)]`` of some candidates on some batches (one call
# scores many: ``NeuralInputSearch.scores_many`` runs them together).
ScoreFn = Callable[[Sequence, Sequence], Sequence[Sequence[float]]]


def race(candidates: Sequence, score: ScoreFn, batches: Sequence, keep: float = 1 / 8,
         min_finalists: int = 8) -> Tuple[int, Dict]:
    """Index of the best candidate by mean objective, and what the selection measured.

    Args:
      candidates: configurations; the first is the controller's most probable one.
      score: per-batch objectives ``[C, B]`` of a list of candidates on a list of batches.
      batches: validation batches (all finalists see all of them).
      keep: share of the candidates that go on from the screening batches.
      min_finalists: finalists at least (all candidates when there are fewer).
    Returns:
      ``(best, info)``: ties go to the lower index, so the most probable wins them.
    """
    if not candidates:
        raise ValueError("final selection: no candidates to score")
    batches = list(batches)
    screen = max(1, len(batches) // 4)
    first = [list(row) for row in score(list(candidates), batches[:screen])]
    n_final = min(len(candidates), max(min_finalists, math.ceil(keep * len(candidates))))
    order = np.argsort([-np.mean(s) for s in first], kind="stable")
    finalists = sorted({0} | set(int(i) for i in order[:n_final]))
    rest = score([candidates[i] for i in finalists], batches[screen:])
    means = {i: float(np.mean(first[i] + list(r))) for i, r in zip(finalists, rest)}
    best = max(finalists, key=lambda i: (means[i], -i))
    return best, {"candidates": len(candidates), "finalists": len(finalists),
                  "screening_batches": screen, "batches": len(batches),
                  "most_probable_objective": means[0], "chosen_objective": means[best],
                  "chosen": "most probable" if best == 0 else f"sample {best}"}
