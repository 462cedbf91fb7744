"""The final selection's race: screening, finalists, ties and what it reports."""
import pytest

from trainer_module.search import final_selection as selection


def _counting(values):
    calls = []

    def score(candidates, batches):
        calls.append((list(candidates), len(batches)))
        return [[values[c] + b for b in batches] for c in candidates]
    return score, calls


def test_best_mean_wins_and_screening_saves_scoring_calls():
    values = {k: float(k % 7) for k in range(64)}          # candidates 6, 13, 20, ... score best
    score, calls = _counting(values)
    best, info = selection.race(list(range(64)), score, [0.0] * 8)
    assert values[best] == 6 and best == 6                 # first of the tied best
    assert info["finalists"] == 9 and info["screening_batches"] == 2   # 8 best + the most probable
    assert sum(len(c) * n for c, n in calls) == 64 * 2 + 9 * 6   # instead of 64 * 8
    assert len(calls) == 2                                 # every candidate of a round at once
    assert calls[1][0] == [0, 6, 13, 20, 27, 34, 41, 48, 55]   # the finalists, in index order
    assert info["most_probable_objective"] == 0.0 and info["chosen_objective"] == 6.0
    assert info["chosen"] == "sample 6"


def test_most_probable_wins_ties_and_always_reaches_the_final():
    score, _ = _counting({"a": 1.0, "b": 1.0, "c": 0.5})
    best, info = selection.race(["a", "b", "c"], score, [0.0, 0.0])
    assert best == 0 and info["chosen"] == "most probable" and info["finalists"] == 3
    score, _ = _counting({k: (-1.0 if k == 0 else 1.0) for k in range(100)})
    _, info = selection.race(list(range(100)), score, [0.0] * 4, keep=0.05, min_finalists=2)
    assert info["finalists"] == 6                          # ceil(0.05 * 100) = 5 best + candidate 0


def test_the_final_uses_every_batch():
    # b is best on the screening batch but worst over all batches
    table = {"a": [0.5, 0.9, 0.9, 0.9], "b": [0.8, 0.1, 0.1, 0.1]}

    best, info = selection.race(["b", "a"], lambda cs, batches: [[table[c][b] for b in batches] for c in cs],
                                [0, 1, 2, 3])
    assert best == 1 and info["chosen_objective"] == pytest.approx(0.8)


def test_no_candidates_is_an_error():
    with pytest.raises(ValueError, match="no candidates"):
        selection.race([], lambda cs, b: [], [0])
