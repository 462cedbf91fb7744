"""Tests of the MES data model (trainer_module/spec/mes.py)."""
import pytest

from trainer_module.spec.mes import FeatureMES, ModelSpec


def test_cost_counts_tables_and_projections_apart():
    spec = ModelSpec(budget=10_000, mode="ME",
                     features={"item": [(100, 32), (400, 8)], "user": [(50, 16)], "noise": []})
    tables, projections = 100 * 32 + 400 * 8 + 50 * 16, 8 * 32  # P_2 only; P_1 is the identity
    assert spec.table_floats() == tables and spec.projection_floats() == projections
    assert spec.accounting == "exact" and spec.cost() == tables + projections
    paper = ModelSpec(budget=10_000, mode="ME", features=spec.features, accounting="paper_tables_only")
    assert paper.cost() == tables
    assert spec.kept_features == ["item", "user"] and spec.removed_features == ["noise"]
    assert spec.features["item"].vocab_size == 500 and spec.features["item"].output_dim == 32


def test_json_round_trip_keeps_everything():
    spec = ModelSpec(budget=5000, mode="SE", features={"a": [(10, 8)], "b": []},
                     metadata={"budget_fallback": True})
    again = ModelSpec.from_json(spec.to_json())
    assert again == spec
    assert again.metadata == {"budget_fallback": True}


@pytest.mark.parametrize("features,needle", [
    ({"item": [(100, 8), (50, 16)]}, "non-increasing"),
    ({"item": [(0, 8)]}, "vocab_size 0"),
    ({"item": [(10, 0)]}, "dim 0"),
])
def test_invalid_entries_name_feature_and_value(features, needle):
    with pytest.raises(ValueError, match="item") as err:
        ModelSpec(budget=100, mode="ME", features=features)
    assert needle in str(err.value)


@pytest.mark.parametrize("budget", [0, -5, 1.5])
def test_budget_must_be_positive_integer(budget):
    with pytest.raises(ValueError, match="budget"):
        ModelSpec(budget=budget, mode="ME", features={"a": [(1, 1)]})


def test_se_mode_allows_one_pair():
    with pytest.raises(ValueError, match="'a'.*SE"):
        ModelSpec(budget=100, mode="SE", features={"a": [(2, 4), (3, 2)]})


def test_unknown_mode_and_tampered_cost_rejected():
    with pytest.raises(ValueError, match="mode"):
        ModelSpec(budget=100, mode="XE", features={})
    text = ModelSpec(budget=100, mode="ME", features={"a": [(2, 4)]}).to_json().replace(
        '"cost": 8', '"cost": 7')
    with pytest.raises(ValueError, match="cost 7"):
        ModelSpec.from_json(text)


def test_feature_mes_vocab_limit():
    with pytest.raises(ValueError, match="'x'.*exceeds"):
        FeatureMES([(5, 2), (6, 1)]).validate("x", max_vocab=10)


def test_mes_json_states_costs_per_feature_and_in_total():
    spec = ModelSpec(budget=10_000, mode="ME", features={"item": [(100, 32), (400, 8)], "user": []})
    d = spec.to_dict()
    assert d["accounting"] == "exact" and d["cost"] == 6400 + 256
    assert d["costs"]["features"]["item"] == {"table_floats": 6400, "projection_floats": 256,
                                              "total_floats": 6656, "bytes": 4 * 6656}
    assert d["costs"]["features"]["user"]["total_floats"] == 0
    assert (d["costs"]["table_floats"], d["costs"]["projection_floats"], d["costs"]["bytes"]) == \
        (6400, 256, 4 * 6656)


def test_old_mes_json_without_accounting_reads_as_the_papers_count():
    old = {"budget": 7000, "mode": "ME", "cost": 6400,
           "features": {"item": [[100, 32], [400, 8]]}}  # written before exact accounting
    spec = ModelSpec.from_dict(old)
    assert spec.accounting == "paper_tables_only" and spec.cost() == 6400
    with pytest.raises(ValueError, match="accounting must be one of"):
        ModelSpec(budget=100, mode="ME", features={}, accounting="tables")
