"""Budget moves around the final selection's pick, judged by the trained supernet.

The controller's samples stay near its policy. Under budget masking in a fixed
decision order that policy can settle where the features decided first hold most
of the budget, while the supernet itself rates configurations that move budget to
a later feature higher (BENCHMARKS.md findings: a local optimum of the per-decision
policy gradient). ``climb`` starts from the final selection's pick and, for a few
rounds, proposes moves that lower one decision's category and raise another's (or
only lower one), every move within the budget, races them against the incumbent
on the validation batches (``selection.race``) and keeps the winner when it beats
the incumbent on the batches the screening did not use.

Example::

    actions, info = climb(space, picked, search.scores, val_batches, rounds=4, moves=32,
                          rng=np.random.default_rng(0))
"""
from __future__ import annotations

from typing import Dict, List, Sequence, Tuple

import numpy as np

from trainer_module import selection
from trainer_module.search_space import SearchSpace

# A move is kept when its paired per-batch gains over the incumbent, on the batches the
# screening did not use, have t >= ACCEPT_T (about a one-sided 5% test with 6 batches): a
# bare higher mean was one Sampled Recall@1 hit in 1,536 examples on ML-100K retrieval, and
# the climb then drifted on noise.
ACCEPT_T = 2.0
# Share of proposals that lower a decision before raising one (the rest only raise, using
# the slack the incumbent leaves under the budget).
LOWER_SHARE = 0.9


def budget_moves(space: SearchSpace, actions: Sequence[int], rng: np.random.Generator,
                 n: int) -> List[np.ndarray]:
    """Up to ``n`` distinct within-budget neighbours of ``actions`` (space decision order).

    A neighbour lowers one decision to a cheaper category, then raises one decision
    (any feature, the same one included) to a dearer category that fits the freed
    floats plus the incumbent's slack, when one does. The lowered decision is drawn in
    proportion to the floats it holds (the budget's big holders are the ones a move can
    free floats from), the raised one uniformly, categories uniformly.
    """
    costs = space.decision_costs()
    base = np.asarray(actions, dtype=np.int64)
    slack = space.budget - space.cost(base)
    out: List[np.ndarray] = []
    seen = {tuple(base.tolist())}
    held = np.array([costs[i][a] for i, a in enumerate(base)], dtype=np.float64)
    p_lower = held / held.sum() if held.sum() > 0 else None
    for _ in range(20 * n):
        if len(out) >= n:
            break
        cand, room = base.copy(), slack
        i = int(rng.choice(len(costs), p=p_lower))
        lower = [c for c, f in enumerate(costs[i]) if f < costs[i][cand[i]]]
        if lower and rng.random() < LOWER_SHARE:
            c = int(rng.choice(lower))
            room += costs[i][cand[i]] - costs[i][c]
            cand[i] = c
        j = int(rng.integers(len(costs)))
        higher = [c for c, f in enumerate(costs[j]) if costs[j][cand[j]] < f <= costs[j][cand[j]] + room]
        if higher:
            cand[j] = int(rng.choice(higher))
        key = tuple(cand.tolist())
        if key in seen or space.cost(cand) > space.budget:
            continue
        seen.add(key)
        out.append(cand)
    return out


def climb(space: SearchSpace, start: Sequence[int], score: selection.ScoreFn, batches: Sequence,
          rounds: int, moves: int, rng: np.random.Generator) -> Tuple[np.ndarray, Dict]:
    """Hill-climbs from ``start`` by races of budget moves; returns the result and its facts.

    Each round races the incumbent and ``moves`` neighbours (``selection.race`` with the
    screening batches left out of the final comparison, so the neighbour that won the
    screening is not favoured by it), keeps the best finalist only when its gains over the
    incumbent are significant (``ACCEPT_T``), and stops when the incumbent stays or no move fits.
    """
    cur = np.asarray(start, dtype=np.int64)
    objectives: List[float] = []
    accepted, calls = 0, 0
    for _ in range(rounds):
        cands = [cur] + budget_moves(space, cur, rng, moves)
        if len(cands) == 1:
            break
        best, info = selection.race(cands, score, batches, judge_screening=False,
                                    min_gain_t=ACCEPT_T)
        calls += info["scoring_calls"]
        if not objectives:
            objectives.append(info["most_probable_objective"])
        if best == 0:
            break
        cur = cands[best]
        accepted += 1
        objectives.append(info["chosen_objective"])
    return cur, {"rounds": rounds, "moves_per_round": moves, "accepted": accepted,
                 "scoring_calls": calls, "objectives": objectives,
                 "start_cost": int(space.cost(start)), "end_cost": int(space.cost(cur))}
