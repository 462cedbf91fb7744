"""Property tests of the budget guarantee: the emitted MES never exceeds the budget."""
import numpy as np
import pytest
import tensorflow as tf
from hypothesis import HealthCheck, given, settings, strategies as st

from trainer_module.spec.mes import checked
from trainer_module.search.space import budget as budget_lib
from trainer_module.data.features import DatasetConfig, FeatureConfig
from trainer_module.model.models import build_model, embedding_params, embedding_table_params
from trainer_module.search.space import SearchSpace


def independent_scorer(space, seed):
    """A stand-in for the controller: independent random logits per decision."""
    rng = np.random.default_rng(seed)
    logps = [np.log(p / p.sum()) for p in (rng.random(n) + 0.05 for n in space.decision_sizes())]

    def score(actions):
        actions = np.atleast_2d(actions)
        return np.array([sum(lp[a] for lp, a in zip(logps, row)) for row in actions])
    return score, np.array([int(np.argmax(lp)) for lp in logps])


def space_of(vocabs, budget_frac, mode):
    """Features f0, f1, ... of the given vocabularies; the budget a fraction of their full size."""
    sizes = {f"f{i}": v for i, v in enumerate(vocabs)}
    full = sum(v * 32 * int(np.ceil(v ** 0.35 / 32)) for v in vocabs)
    return sizes, SearchSpace.from_vocab_sizes(sizes, budget=max(1, int(full * budget_frac)), mode=mode)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vocabs=st.lists(st.integers(1, 5000), min_size=1, max_size=4),
       budget_frac=st.floats(0.0, 1.5), mode=st.sampled_from(["SE", "ME"]), seed=st.integers(0, 99))
def test_emitted_mes_within_budget_and_equal_to_built_tables(vocabs, budget_frac, mode, seed):
    sizes, space = space_of(vocabs, budget_frac, mode)
    score, greedy = independent_scorer(space, seed)
    actions, info = budget_lib.select_within_budget(space, greedy, score)
    spec = checked(space.to_spec(actions, metadata=info))
    assert spec.cost() <= space.budget
    assert info["budget_fallback"] == (space.cost(greedy) > space.budget)
    if spec.kept_features:
        dataset = DatasetConfig("ranking", "y", [FeatureConfig(n) for n in sizes])
        model = build_model(dataset, spec, hidden_units=(4,))
        model({n: tf.zeros([1, 1], tf.int64) for n in sizes})
        assert embedding_table_params(model) == spec.table_floats()
        assert embedding_params(model) == spec.cost()  # tables + projections: all it serves


def test_fallback_prefers_most_probable_feasible_and_records_it():
    space = SearchSpace.from_vocab_sizes({"a": 1000, "b": 1000}, budget=3000, mode="SE")
    score, _ = independent_scorer(space, 0)
    full = [30, 30]  # both features at 1000 x 32 (5 row blocks x 6 dim chunks): cost 64000
    actions, info = budget_lib.select_within_budget(space, full, score)
    assert space.cost(actions) <= 3000 and info["budget_fallback"]
    assert info["most_probable_cost"] == 64_000 and info["chosen_cost"] == space.cost(actions)
    assert "over the budget" in info["reason"]


def test_unique_feasible_keeps_order_and_drops_duplicates_and_overruns():
    space = SearchSpace.from_vocab_sizes({"a": 1000}, budget=3000, mode="SE")
    over, fits, empty = [30], [2], [0]  # 1000x32 is over; 100x2 and removal fit
    out = budget_lib.unique_feasible(space, [fits, over, empty, fits])
    assert [list(c) for c in out] == [fits, empty]


@settings(max_examples=20, deadline=None)
@given(vocabs=st.lists(st.integers(1, 5000), min_size=1, max_size=4),
       budget_frac=st.floats(0.0, 1.5), mode=st.sampled_from(["SE", "ME"]), seed=st.integers(0, 99))
def test_random_feasible_configurations_fit_the_budget(vocabs, budget_frac, mode, seed):
    _, space = space_of(vocabs, budget_frac, mode)
    actions = budget_lib.random_feasible(space, 16, seed)
    assert actions.shape == (16, len(space.decision_sizes()))
    assert all(space.cost(a) <= space.budget for a in actions)
    assert (actions < np.array(space.decision_sizes())).all() and (actions >= 0).all()
    np.testing.assert_array_equal(actions, budget_lib.random_feasible(space, 16, seed))


def test_random_feasible_favours_no_feature_by_its_declared_place():
    # Two identical features under a budget that fits about one of them: in a fixed order the
    # first would take the budget; in random orders each leads (and keeps rows) about as often.
    space = SearchSpace.from_vocab_sizes({"a": 2000, "b": 2000}, budget=20_000, mode="ME")
    actions = budget_lib.random_feasible(space, 2000, seed=0)
    costs = {f.name: [] for f in space.features}
    for a in actions:
        for f, sl in zip(space.features, space.decision_slices()):
            costs[f.name].append(f.level_cost(f.levels(list(a[sl]), "ME")))
    mean_a, mean_b = np.mean(costs["a"]), np.mean(costs["b"])
    assert mean_a > 0.15 * space.budget and mean_b > 0.15 * space.budget
    assert abs(mean_a - mean_b) < 0.1 * (mean_a + mean_b)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(vocabs=st.lists(st.integers(1, 5000), min_size=1, max_size=4),
       budget_frac=st.floats(0.0, 1.0), seed=st.integers(0, 99))
def test_widen_to_budget_fits_keeps_vocabularies_and_leaves_no_width_step_that_fits(
        vocabs, budget_frac, seed):
    _, space = space_of(vocabs, budget_frac, "SE")
    start = budget_lib.random_feasible(space, 1, seed)[0]
    filled = budget_lib.widen_to_budget(space, start)
    assert space.cost(start) <= space.cost(filled) <= space.budget
    before, after = space.to_spec(start), space.to_spec(filled)
    for f, sl in zip(space.features, space.decision_slices()):
        a, b = before.features[f.name], after.features[f.name]
        assert a.vocab_size == b.vocab_size  # removed features stay removed
        assert b.removed or b.output_dim >= a.output_dim
        s, t = f.se_pick(int(filled[sl.start]))
        if t not in (0, f.num_col_blocks):  # one more width step of any feature would overshoot
            wider = filled.copy()
            wider[sl.start] = f.se_category(s, t + 1)
            assert space.cost(wider) > space.budget


def test_widen_to_budget_takes_width_steps_round_robin():
    space = SearchSpace.from_vocab_sizes({"a": 100, "b": 50}, budget=100 * 8 + 50 * 4, mode="SE")
    a, b = space.features
    start = np.array([a.se_category(a.num_row_blocks, 1), b.se_category(b.num_row_blocks, 1)])
    spec = space.to_spec(budget_lib.widen_to_budget(space, start))
    # widths 1,1 -> 2,2 -> 4,4 (600 floats) -> a 8 (1000: fits); b 8 would need 1200
    assert spec.features["a"].entries == ((100, 8),) and spec.features["b"].entries == ((50, 4),)
    me = SearchSpace.from_vocab_sizes({"a": 100}, budget=1000, mode="ME")
    with pytest.raises(ValueError, match="needs an SE search space"):
        budget_lib.widen_to_budget(me, np.zeros(len(me.decision_sizes()), np.int32))
