"""ENAS-style final selection: which candidate configuration the search emits.

``choose`` gathers the candidates and emits the winner; the search scores the controller's most probable configuration, its samples and
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
from typing import Callable, Dict, Optional, Sequence, Tuple

import numpy as np
import tensorflow as tf

from trainer_module.search.space import budget as budget_lib
from trainer_module.search.config import SearchConfig
from trainer_module.search.controller import Controller
from trainer_module.search.space import SearchSpace

# Objectives ``[len(candidates), len(batches)]`` of some candidates on some batches (one call
# scores many: ``SearchSteps.scores_many`` runs them together).
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


def choose(space: SearchSpace, config: SearchConfig, controller: Controller, score: ScoreFn,
           val_batches: Sequence = (), previous: Optional[np.ndarray] = None,
           examples: Callable[[object], int] = lambda y: 0) -> Tuple[np.ndarray, Dict]:
    """The configuration the search emits (always within budget) and what its choice measured.

    Without ``val_batches`` (or with ``final_candidates=0``) this is the controller's most
    probable feasible configuration. With them, that configuration and ``final_candidates``
    samples of the controller (and ``previous``, a warm start's MES) are scored by ``score``
    on the batches beside ``final_random_candidates`` random within-budget configurations
    (``budget.random_feasible``), and the best is emitted (ENAS' final selection, screened by
    ``race``): a policy that is still spread out has an unstable argmax, while the sampled
    configurations it favours are measured directly. With ``fill_budget`` an SE pick is then
    widened into the unused budget.

    Args:
      space: the searched space.
      config: ``final_candidates``, ``final_random_candidates``, ``fill_budget``, ``seed``.
      controller: the trained policy.
      score: objectives ``[C, B]`` of candidates on batches (``SearchSteps.scores_many``).
      val_batches: held-back validation batches.
      previous: the previous run's MES projected into ``space`` (warm start), or None.
      examples: examples in a batch's labels (reported).
    Returns:
      ``(actions, info)``: the emitted actions in the space's order and the metadata.
    """
    greedy = controller.greedy()
    samples = controller.sample(max(512, config.final_candidates),
                                tf.constant([config.seed, -1], tf.int64)).numpy()
    log_prob = lambda a: controller.log_prob(tf.constant(a, tf.int32)).numpy()  # noqa: E731
    actions, info = budget_lib.select_within_budget(space, greedy, log_prob, samples)
    if previous is not None:  # the previous run's MES, projected and repaired into the budget
        previous = budget_lib.repair_path(space, previous, log_prob)[-1]
        info["warm_start_cost"] = int(space.cost(previous))
    if val_batches and config.final_candidates:
        rand = budget_lib.random_feasible(space, config.final_random_candidates, config.seed)
        extra = [] if previous is None else [previous]
        actions, info["final_selection"] = _best_measured(
            space, score, actions, extra + list(samples[:config.final_candidates]), rand,
            val_batches, examples)
        if previous is not None:
            info["warm_start_chosen"] = bool(np.array_equal(actions, previous))
    if config.fill_budget and space.mode == "SE":
        info["unfilled_cost"] = int(space.cost(actions))
        actions = budget_lib.widen_to_budget(space, actions)
    return actions, info


def _best_measured(space, score, first, samples, random_samples, val_batches, examples):
    """The candidate ``score`` rates best on ``val_batches`` (``race``) among ``first``, the
    controller's ``samples`` and ``random_samples``."""
    controller = [first] + list(samples)
    from_controller = len(budget_lib.unique_feasible(space, controller))
    # unique_feasible keeps the order: the first from_controller are the controller's.
    candidates = budget_lib.unique_feasible(space, controller + list(random_samples))
    val_batches = list(val_batches)
    best, info = race(candidates, score, val_batches)
    info.update(random_candidates=len(candidates) - from_controller,
                chosen_from="controller" if best < from_controller else "random")
    counts = [examples(y) for _, y in val_batches]
    info.update(examples_per_candidate=sum(counts), screening_examples=sum(counts[:info["screening_batches"]]))
    return candidates[best], info
