"""Budget moves and the hill-climb after the final selection (fake objectives, no TF)."""
import numpy as np

from trainer_module import local_search
from trainer_module.search_space import SearchSpace


def _space(mode="ME", budget=3_000):
    return SearchSpace.from_vocab_sizes({"a": 1_000, "b": 1_000, "c": 50}, budget, mode=mode)


def _start(space):
    """Spends the budget on feature a's first decisions (the controller's local optimum)."""
    actions = np.zeros(len(space.decision_sizes()), np.int64)
    costs = space.decision_costs()
    for i in range(space.decision_slices()[0].stop):
        for c in reversed(range(len(costs[i]))):
            trial = actions.copy()
            trial[i] = c
            if space.cost(trial) <= space.budget:
                actions = trial
                break
    return actions


def test_moves_are_distinct_within_budget_and_one_or_two_decisions_away():
    for mode in ("ME", "SE"):
        space = _space(mode)
        start = _start(space)
        moves = local_search.budget_moves(space, start, np.random.default_rng(0), 40)
        assert 10 <= len(moves) <= 40
        assert len({tuple(m) for m in moves}) == len(moves)
        assert all(tuple(m) != tuple(start) for m in moves)
        assert all(space.cost(m) <= space.budget for m in moves)
        assert all(1 <= int(np.sum(m != start)) <= 2 for m in moves)
        # some moves take floats from feature a and give them to another feature
        a = space.decision_slices()[0]
        assert any(space.cost(m) > 0 and m[a].sum() < start[a].sum()
                   and (m[a.stop:] > 0).any() for m in moves)


def test_climb_moves_budget_to_the_feature_the_objective_rewards():
    space = _space()
    start = _start(space)
    b = space.decision_slices()[1]
    levels = lambda a: space.levels(a)  # noqa: E731
    # objective: floats of feature b (what the supernet would prefer), per batch
    value = lambda a: float(space.features[1].level_cost(levels(a)["b"]))  # noqa: E731
    score = lambda a, batches: [value(a)] * len(batches)  # noqa: E731
    end, info = local_search.climb(space, start, score, [0] * 8, rounds=6, moves=32,
                                   rng=np.random.default_rng(1))
    assert value(start) == 0 and value(end) > 0 and space.cost(end) <= space.budget
    assert info["accepted"] >= 1 and info["objectives"][-1] == value(end)
    assert info["objectives"] == sorted(info["objectives"])
    assert (end[b] > 0).any()


def test_climb_keeps_the_start_when_no_move_beats_it():
    space = _space()
    start = _start(space)
    score = lambda a, batches: [1.0 if tuple(a) == tuple(start) else 0.0] * len(batches)  # noqa
    end, info = local_search.climb(space, start, score, [0] * 4, rounds=3, moves=16,
                                   rng=np.random.default_rng(2))
    assert tuple(end) == tuple(start) and info["accepted"] == 0
    assert info["scoring_calls"] == 17 * 1 + 8 * 3    # one round: screening 17, final 8 (incl. start)
