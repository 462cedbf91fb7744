"""The budget guarantee: every MES the project emits costs at most the budget.

``select_within_budget`` takes the controller's most probable configuration and,
if it is over budget, returns the most probable *feasible* one among (a) a
greedy repair path that keeps lowering the decision that loses the least
log-probability per float saved (it always ends feasible: every feature removed
costs 0) and (b) configurations sampled from the controller. ``checked`` is the
one gate every writer calls before an MES leaves the process.

Example::

    actions, info = select_within_budget(space, greedy, controller.log_prob)
    spec = checked(space.to_spec(actions, metadata=info))
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from trainer_module.search.space import SearchSpace
from trainer_module.spec.mes import ModelSpec

# Scores a batch of full choice vectors int [N, n_decisions] -> log-probabilities [N].
ScoreFn = Callable[[np.ndarray], np.ndarray]


def _neighbours(space: SearchSpace, actions: np.ndarray) -> List[np.ndarray]:
    """Configurations that differ from ``actions`` in one decision and cost less."""
    base = space.cost(actions)
    out = []
    for i, n in enumerate(space.decision_sizes()):
        for c in range(n):
            if c == actions[i]:
                continue
            cand = actions.copy()
            cand[i] = c
            if space.cost(cand) < base:
                out.append(cand)
    return out


def repair_path(space: SearchSpace, start: Sequence[int], score: ScoreFn) -> List[np.ndarray]:
    """Greedy descent from ``start`` to a feasible configuration (cost strictly falls each step)."""
    cur = np.asarray(start, dtype=np.int64)
    path = [cur]
    while space.cost(cur) > space.budget:
        cands = _neighbours(space, cur)
        scores = np.asarray(score(np.stack(cands)))
        cur_score = float(np.asarray(score(cur[None, :]))[0])
        saved = np.array([space.cost(cur) - space.cost(c) for c in cands], dtype=np.float64)
        # Log-probability lost per float saved; prefer big savings on ties.
        loss_per_float = (cur_score - scores) / saved
        cur = cands[int(np.lexsort((-saved, loss_per_float))[0])]
        path.append(cur)
    return path


def select_within_budget(space: SearchSpace, most_probable: Sequence[int], score: ScoreFn,
                         samples: Optional[np.ndarray] = None) -> Tuple[np.ndarray, Dict]:
    """The most probable feasible configuration, and facts about how it was found."""
    best = np.asarray(most_probable, dtype=np.int64)
    best_cost = space.cost(best)
    if best_cost <= space.budget:
        return best, {"budget_fallback": False}
    pool = repair_path(space, best, score)
    if samples is not None and len(samples):
        pool += [np.asarray(s, dtype=np.int64) for s in samples]
    feasible = [c for c in pool if space.cost(c) <= space.budget]
    scores = np.asarray(score(np.stack(feasible)))
    chosen = feasible[int(np.argmax(scores))]
    return chosen, {
        "budget_fallback": True,
        "most_probable_cost": int(best_cost),
        "chosen_cost": int(space.cost(chosen)),
        "reason": (f"the controller's most probable configuration costs {best_cost} floats, over "
                   f"the budget of {space.budget}; emitted the most probable feasible candidate "
                   f"among {len(feasible)} (repair path + controller samples)"),
    }


def unique_feasible(space: SearchSpace, candidates: Sequence[Sequence[int]]) -> List[np.ndarray]:
    """The distinct configurations among ``candidates`` that fit the budget, in order."""
    out, seen = [], set()
    for cand in candidates:
        key = tuple(int(a) for a in cand)
        if key not in seen and space.cost(key) <= space.budget:
            seen.add(key)
            out.append(np.asarray(key, np.int32))
    return out


def random_feasible(space: SearchSpace, n: int, seed: int) -> np.ndarray:
    """``n`` random configurations within budget ``[n, n_decisions]`` (space order).

    Each one decides the features in its own random order, every decision uniformly
    among the categories that still fit the remaining budget (priced exactly under the
    space's accounting by ``SearchSpace.increment_costs``: the increments are >= 0 and sum
    to the configuration's cost; category 0 of every decision is free), so no feature
    is favoured by its place in the declaration. The final selection scores these beside
    the controller's samples: a supernet trained on everything during warm-up can rate a
    configuration the policy gradient never reached.
    """
    rng = np.random.default_rng(seed)
    costs = space.decision_costs()
    additive = space.mode == "SE" or space.accounting == "paper_tables_only"
    slices = space.decision_slices()
    out = np.zeros([n, len(costs)], np.int32)
    for row in out:
        left = space.budget
        for f in rng.permutation(len(slices)):
            for i in range(slices[f].start, slices[f].stop):
                inc = costs[i] if additive else space.increment_costs(row, i)
                fits = [c for c, cost in enumerate(inc) if cost <= left]
                row[i] = fits[rng.integers(len(fits))]
                left -= inc[row[i]]
    return out


def widen_to_budget(space: SearchSpace, actions: Sequence[int]) -> np.ndarray:
    """An SE configuration widened into the budget it leaves unused.

    Every kept feature (in declaration order, round after round) moves to its next
    width (one more dim chunk: 1 -> 2 -> 4 ... up to its maximum), keeping its
    vocabulary, whenever the configuration still fits; removed features stay removed.
    The cost loss penalises only excess memory, so a search can emit far less than the
    budget; this spends the rest on the widths the search chose.
    """
    if space.mode != "SE":
        raise ValueError(f"widen_to_budget needs an SE search space, got mode {space.mode!r}")
    out = np.array(actions, np.int32)
    grew = True
    while grew:
        grew = False
        for f, sl in zip(space.features, space.decision_slices()):
            category = int(out[sl.start])
            s, t = f.se_pick(category)
            if t in (0, f.num_col_blocks):
                continue  # removed, or already at its widest
            out[sl.start] = f.se_category(s, t + 1)
            if space.cost(out) <= space.budget:
                grew = True
            else:
                out[sl.start] = category
    return out
