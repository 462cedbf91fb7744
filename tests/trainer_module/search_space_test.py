"""Tests of the whole search space: decisions, costs, orders, specs and input checks."""
import numpy as np
import pytest

from trainer_module.search_space import SearchSpace


def test_configurable_per_feature():
    space = SearchSpace.from_vocab_sizes({"a": 100, "b": 1000}, budget=500, mode="SE",
                                         overrides={"a": {"vocab_fractions": [0.5, 0.5],
                                                          "dim_chunks": [4, 2]}})
    a = space.feature("a")
    assert a.block_vocab == (50, 50) and a.dim == 6
    assert space.decision_sizes() == [2 * 2 + 1, 5 * 6 + 1]  # b: 5 row blocks x 6 chunks


def test_bad_space_inputs():
    with pytest.raises(ValueError, match="budget"):
        SearchSpace.from_vocab_sizes({"a": 10}, budget=0)
    with pytest.raises(ValueError, match=r"unknown feature\(s\) \['zz'\]"):
        SearchSpace.from_vocab_sizes({"a": 10}, budget=5, overrides={"zz": {"dim": 4}})
    with pytest.raises(ValueError, match="'a'.*unknown search-space option"):
        SearchSpace.from_vocab_sizes({"a": 10}, budget=5, overrides={"a": {"dims": 4}})


def test_infeasible_budget_message():
    space = SearchSpace.from_vocab_sizes({"a": 1000, "b": 100}, budget=5)
    with pytest.raises(ValueError, match=r"cheapest non-empty configuration \(10 floats: feature 'b'"):
        space.check_feasible()


def test_space_cost_and_spec_agree():
    equal = {"num_dim_chunks": 4}  # the paper's four 8-wide chunks
    space = SearchSpace.from_vocab_sizes({"a": 1000, "b": 100}, budget=10_000, mode="ME",
                                         overrides={"a": equal, "b": equal})
    actions = [1, 5, 0, 2, 3, 3, 3, 0]
    spec = space.to_spec(actions)
    assert spec.cost() == space.cost(actions)
    assert spec.features["a"].entries == ((100, 24), (200, 16), (700, 8))
    assert spec.features["b"].entries == ((50, 24),)


def test_decision_costs_add_up_to_the_configuration_cost():
    import numpy as np
    rng = np.random.default_rng(0)
    for mode in ("ME", "SE"):
        space = SearchSpace.from_vocab_sizes({"a": 50, "b": 7}, budget=100, mode=mode,
                                             overrides={"a": {"dim_chunks": (1, 2, 5)}},
                                             accounting="paper_tables_only")
        exact = SearchSpace(space.features, space.budget, mode)
        costs = space.decision_costs()
        assert [len(c) for c in costs] == space.decision_sizes()
        for _ in range(200):
            acts = [int(rng.integers(n)) for n in space.decision_sizes()]
            assert sum(c[a] for c, a in zip(costs, acts)) == space.cost(acts)
            spec = exact.to_spec(acts)
            assert exact.cost(acts) == spec.cost() == spec.table_floats() + spec.projection_floats()
            assert space.cost(acts) == spec.table_floats()
            if mode == "SE":  # an SE pick has no projections
                assert exact.cost(acts) == space.cost(acts)


def test_exact_increments_are_nonnegative_and_sum_to_the_cost_in_any_order():
    import numpy as np
    rng = np.random.default_rng(1)
    space = SearchSpace.from_vocab_sizes({"a": 21, "b": 300}, budget=100, mode="ME")
    n = len(space.decision_sizes())
    for _ in range(100):
        acts = [int(rng.integers(k)) for k in space.decision_sizes()]
        row, total = [0] * n, 0
        for i in rng.permutation(n):  # the decisions in any order, features interleaved
            inc = space.increment_costs(row, int(i))
            assert inc[0] == 0 and min(inc) >= 0
            row[i] = acts[i]
            total += inc[acts[i]]
            assert total == space.cost(row)
        assert total == space.cost(acts) == space.to_spec(acts).cost()
