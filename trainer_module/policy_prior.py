"""The controller's initial policy under a tight budget: every feature gets a fair share.

With budget masking and a uniform initial policy, the features decided first spend
a tight budget before the last ones are decided: on ML-100K retrieval at 2% of the
full embedding floats, ``user_id`` (decided first) took 80% of the budget in the
sampled configurations and ``history`` (decided last) got any rows in 1-2% of
them, never more than width 1, so its reward could not be learned (BENCHMARKS.md
findings). ``cost_prior_bias`` gives the policy heads initial biases
``-beta_f * cost`` (per feature ``f``), so that under the initial policy every
feature expects to spend at most a common cap ``c`` of the budget, the caps of all
features adding up to ``fill`` budgets (water-filling: a feature whose uniform
policy already spends less than ``c`` keeps zero biases). Cheap choices (few rows,
narrow chunks) become likely first; the controller then learns to widen what earns
reward. The policy adds these biases after its ``logit_bound`` (they are trainable
and unbounded, so a prior is never out of the learned part's reach), floored at
``FLOOR``.

Example::

    # two features, one decision each, costs in budgets
    bias = cost_prior_bias([[[0.0, 0.5, 2.0]], [[0.0, 0.1, 0.4]]], fill=0.75)
    bias[0]   # [0.0, -x, -y]: the expensive first feature is pushed to cheap choices
"""
from __future__ import annotations

from typing import List, Sequence

import numpy as np

Costs = Sequence[Sequence[float]]  # one feature: per decision, per category, in budgets


FLOOR = -30.0  # lowest initial bias: probability ratios beyond e^30 are 0 in float32 anyway


def expected_cost(costs: Costs, beta: float) -> float:
    """Budgets one feature spends in expectation when its biases are ``-beta * cost``."""
    total = 0.0
    for c in costs:
        c = np.asarray(c, np.float64)
        z = np.maximum(-beta * c, FLOOR)
        p = np.exp(z - z.max())
        total += float(np.dot(p / p.sum(), c))
    return total


def _solve_beta(costs: Costs, target: float) -> float:
    """The smallest ``beta >= 0`` whose expected cost is at most ``target`` (bisection in log space;
    the largest tried when the floor keeps the expectation above the target)."""
    if expected_cost(costs, 0.0) <= target:
        return 0.0
    lo, hi = -6.0, 6.0  # log10 beta
    if expected_cost(costs, 10 ** hi) > target:
        return 10 ** hi
    for _ in range(60):
        mid = (lo + hi) / 2
        if expected_cost(costs, 10 ** mid) > target:
            lo = mid
        else:
            hi = mid
    return 10 ** hi


def water_level(uniform_costs: Sequence[float], fill: float) -> float:
    """Cap ``c`` with ``sum_f min(u_f, c) = fill`` (inf when the uniform costs sum to less)."""
    u = sorted(float(x) for x in uniform_costs)
    if sum(u) <= fill:
        return float("inf")
    spent = 0.0
    for k, x in enumerate(u):
        cap = (fill - spent) / (len(u) - k)
        if cap <= x:
            return cap
        spent += x
    return float("inf")  # unreachable: sum(u) > fill


def cost_prior_bias(feature_costs: Sequence[Costs], fill: float = 0.75) -> List[List[List[float]]]:
    """Initial policy biases per feature, decision and category (same nesting as the costs).

    Args:
      feature_costs: per feature, per decision, the cost (in budgets) of every category.
      fill: budgets all features together expect to spend under the initial policy.
    Returns:
      ``max(-beta_f * cost, FLOOR)`` per category; all zeros for a feature within the common cap.
    """
    if fill <= 0:
        raise ValueError(f"cost prior: fill must be > 0 budgets, got {fill}")
    uniform = [expected_cost(c, 0.0) for c in feature_costs]
    cap = water_level(uniform, fill)
    out = []
    for costs in feature_costs:
        beta = _solve_beta(costs, cap) if np.isfinite(cap) else 0.0
        out.append([[max(-beta * float(x), FLOOR) for x in c] for c in costs])
    return out
