"""ENAS-style final selection: which of the controller's candidates the search emits.

The search scores the controller's most probable configuration and its samples on
held-back validation batches with its trained supernet and emits the best one.
Scoring every candidate on every batch grows with candidates x batches, so
``race`` screens them first (successive halving, one round): all candidates on the
first quarter of the batches, then only the best eighth (at least ``min_finalists``,
and always the first candidate, the controller's most probable one) on the rest.
With 256 candidates and 8 batches that is 704 scoring calls instead of 2,048.

Example::

    best, info = race(candidates, lambda c, batches: [objective(c, b) for b in batches], batches)
    candidates[best]   # the finalist with the best mean objective on all batches
"""
from __future__ import annotations

import math
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

# Per-batch objectives of one candidate on some batches.
ScoreFn = Callable[[object, Sequence], List[float]]


def race(candidates: Sequence, score: ScoreFn, batches: Sequence, keep: float = 1 / 8,
         min_finalists: int = 8, judge_screening: bool = True,
         min_gain_t: Optional[float] = None) -> Tuple[int, Dict]:
    """Index of the best candidate by mean objective, and what the selection measured.

    Args:
      candidates: configurations; the first is the controller's most probable one.
      score: per-batch objectives of one candidate on a list of batches.
      batches: validation batches (all finalists see all of them).
      keep: share of the candidates that go on from the screening batches.
      min_finalists: finalists at least (all candidates when there are fewer).
      judge_screening: whether the screening batches count in the finalists' means; False
        judges on the other batches only (needs at least 2 batches), so the screening's
        winners are not favoured by the noise that made them win it.
      min_gain_t: when set, the best finalist replaces the first candidate only if its
        per-batch gains over it (paired, on the judged batches) have a t statistic of at
        least this; otherwise the first candidate is returned.
    Returns:
      ``(best, info)``: ties go to the lower index, so the most probable wins them.
    """
    if not candidates:
        raise ValueError("final selection: no candidates to score")
    batches = list(batches)
    screen = max(1, len(batches) // 4)
    if not judge_screening and len(batches) < 2:
        raise ValueError("race: judging without the screening batches needs at least 2 batches")
    first = [list(score(c, batches[:screen])) for c in candidates]
    n_final = min(len(candidates), max(min_finalists, math.ceil(keep * len(candidates))))
    order = np.argsort([-np.mean(s) for s in first], kind="stable")
    finalists = sorted({0} | set(int(i) for i in order[:n_final]))
    rest = {i: list(score(candidates[i], batches[screen:])) for i in finalists}
    means = {i: float(np.mean(rest[i] if not judge_screening else first[i] + rest[i]))
             for i in finalists}
    best = max(finalists, key=lambda i: (means[i], -i))
    extra = {}
    if min_gain_t is not None and best != 0:
        judged = lambda i: rest[i] if not judge_screening else first[i] + rest[i]  # noqa: E731
        extra["gain_t"] = paired_t(judged(best), judged(0))
        if extra["gain_t"] < min_gain_t:
            extra["rejected"] = f"sample {best}"
            best = 0
    return best, {**extra,"candidates": len(candidates), "finalists": len(finalists),
                  "screening_batches": screen, "batches": len(batches),
                  "scoring_calls": len(candidates) * screen + len(finalists) * (len(batches) - screen),
                  "most_probable_objective": means[0], "chosen_objective": means[best],
                  "chosen": "most probable" if best == 0 else f"sample {best}"}


def paired_t(new: Sequence[float], old: Sequence[float]) -> float:
    """t statistic of the per-batch gains ``new - old`` (inf / 0 when they do not vary)."""
    gains = np.asarray(new, np.float64) - np.asarray(old, np.float64)
    mean = float(gains.mean())
    sd = float(gains.std(ddof=1)) if len(gains) > 1 else 0.0
    if sd == 0.0:
        return math.inf if mean > 0 else 0.0
    return mean / (sd / math.sqrt(len(gains)))
