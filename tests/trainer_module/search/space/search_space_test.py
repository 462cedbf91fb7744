"""Tests of the whole search space: decisions, costs, orders, specs and input checks."""
import numpy as np
import pytest

from trainer_module.search.space import SearchSpace


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


def _feasible_mess(space):
    """Every within-budget configuration's MES, as a set of (feature, entries) tuples."""
    import itertools
    out = set()
    for actions in itertools.product(*[range(n) for n in space.decision_sizes()]):
        if space.cost(actions) <= space.budget:
            spec = space.to_spec(actions)
            out.add(tuple((n, tuple(map(tuple, f.entries))) for n, f in sorted(spec.features.items())))
    return out


@pytest.mark.parametrize("mode, chunks, accounting, kept", [
    ("ME", None, "exact", (1, 1, 2)), ("SE", None, "exact", (1, 1)),
    ("ME", (4, 1, 2, 1), "exact", (1, 2, 1)), ("SE", (4, 1, 2, 1), "paper_tables_only", (4,)),
    ("ME", (1, 1, 2, 4), "paper_tables_only", (1, 1, 2))])
def test_within_budget_widths_keeps_exactly_the_feasible_configurations(mode, chunks, accounting,
                                                                       kept):
    # 10 rows in the first block: at 35 floats chunks wider than 3 (ME), or prefixes past
    # width 3 (SE), are unaffordable.
    over = {"a": {"dim_chunks": chunks}} if chunks else {"a": {"dim": 8}}
    space = SearchSpace.from_vocab_sizes({"a": 100, "b": 20}, budget=35, mode=mode,
                                         overrides={**over, "b": {"dim": 4}}, accounting=accounting)
    pruned = space.within_budget_widths()
    assert pruned.feature("a").dim_chunks == kept
    assert _feasible_mess(pruned) == _feasible_mess(space)


def test_within_budget_widths_drops_the_columns_a_million_id_feature_cannot_afford():
    space = SearchSpace.from_vocab_sizes({"user": 1_000_000, "device": 8}, budget=320_000)
    pruned = space.within_budget_widths()
    assert space.feature("user").dim == 128 and pruned.feature("user").dim == 4  # 100k rows x 4
    assert pruned.feature("device") == space.feature("device")
    assert pruned.within_budget_widths() == pruned
    # a feature that nothing fits keeps its narrowest chunk (removed by the budget masks)
    tight = SearchSpace.from_vocab_sizes({"user": 1_000_000, "device": 8}, budget=50_000)
    assert tight.within_budget_widths().feature("user").dim_chunks == (1,)


def test_searched_space_prunes_by_the_configs_mode():
    from trainer_module.search.search import SearchConfig, searched_space
    # first row blocks of 3,000 and 500 rows at 6,000 floats: "big" (over 20,000 ids) affords
    # widths up to 2, "small" up to 12, so "on" drops its 16-wide chunk and "auto" keeps it
    space = SearchSpace.from_vocab_sizes({"big": 30_000, "small": 5_000}, budget=6_000)
    dims = {mode: [f.dim for f in searched_space(space, SearchConfig(prune_widths=mode)).features]
            for mode in ("auto", "on", "off")}
    assert dims == {"auto": [4, 32], "on": [4, 16], "off": [64, 32]}
    assert SearchConfig().prune_widths == "auto"
    with pytest.raises(ValueError, match="prune_widths must be one of"):
        SearchConfig(prune_widths="always")
    with pytest.raises(ValueError, match="search option 'prune_widths' must be a string, got True"):
        SearchConfig(prune_widths=True)
