"""run_fn: MES vs. baseline choice, budget source and cap, vocabulary checks."""
import pytest

from trainer_module.data.features import DatasetConfig, FeatureConfig
from trainer_module.model import trainer as run_fn
from trainer_module.model.trainer_config import TrainerConfig
from trainer_module.spec import capacity
from trainer_module.spec.mes import FeatureMES, ModelSpec

SIZES = {"a": 100, "b": 50}
DATASET = DatasetConfig(task="ranking", label="y", features=[FeatureConfig("a"), FeatureConfig("b")])


def resolve(custom_config, sizes=SIZES):
    """``resolve_spec`` of a custom_config dict, parsed as run_fn parses it."""
    config = TrainerConfig.from_custom_config({"dataset": DATASET.to_dict(), **custom_config})
    return run_fn.resolve_spec(config, sizes)
SPEC = ModelSpec(budget=2000, mode="ME", features={"a": FeatureMES([(10, 16), (90, 4)]),
                                                    "b": FeatureMES([])})


def _mes_file(tmp_path, spec=SPEC):
    path = tmp_path / "mes.json"
    path.write_text(spec.to_json())
    return str(path)


def test_mes_is_used_when_given(tmp_path):
    assert resolve({"mes_uri": _mes_file(tmp_path)}, SIZES) == SPEC


def test_baseline_when_no_mes_or_forced(tmp_path):
    spec = resolve({"budget": 1500}, SIZES)
    assert spec.mode == "SE" and spec.metadata["baseline"] == "uniform_se" and spec.cost() <= 1500
    forced = resolve({"mes_uri": _mes_file(tmp_path), "baseline": True}, SIZES)
    assert forced.budget == 2000 and forced.metadata["baseline"] == "uniform_se"
    dim4 = resolve({"budget": 1500, "baseline_dim": 4}, SIZES)
    assert {f.output_dim for f in dim4.features.values()} == {4}
    with pytest.raises(ValueError, match="needs custom_config\\['budget'\\]"):
        resolve({}, SIZES)


def test_mes_larger_than_vocabulary_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="exceeds the feature's vocabulary of 60"):
        resolve({"mes_uri": _mes_file(tmp_path)}, {"a": 60, "b": 50})
    with pytest.raises(FileNotFoundError):
        resolve({"mes_uri": str(tmp_path / "missing.json")}, SIZES)


def test_degenerate_specs_are_never_trained(tmp_path):
    # A one-float budget: the uniform baseline cannot embed an item of every feature.
    with pytest.raises(ValueError, match=r"embeds no item of \['b'\]; refusing to train"):
        resolve({"budget": 1}, SIZES)
    empty = ModelSpec(budget=2000, mode="ME", features={"a": FeatureMES([]), "b": FeatureMES([])})
    with pytest.raises(ValueError, match=r"embeds no item of \['a', 'b'\]; refusing"):
        resolve({"mes_uri": _mes_file(tmp_path, empty)}, SIZES)


def test_mes_over_the_pipeline_budget_is_refused(tmp_path):
    path = _mes_file(tmp_path)
    assert resolve({"mes_uri": path, "budget": 2000}, SIZES) == SPEC
    with pytest.raises(ValueError, match=f"MES {path} says budget 2,000 floats but the pipeline "
                                         "config recorded 1,000"):
        resolve({"mes_uri": path, "budget": 1000}, SIZES)


def test_budget_above_the_full_model_is_capped_and_reported(tmp_path, monkeypatch):
    # Full model: every item at the search space's maximum width, 100 x 32 + 50 x 32 floats.
    full = 150 * 32
    warnings = []
    monkeypatch.setattr(capacity.logging, "warning", lambda msg, *a: warnings.append(msg % a))
    spec = resolve({"budget": 10 ** 9, "baseline": True})
    assert spec.budget == full and {f.output_dim for f in spec.features.values()} == {32}
    assert any(w.startswith(f"BaselineTrainer: budget 1,000,000,000 floats is above the full "
                            f"model's {full:,}") for w in warnings), warnings
    # The search's overrides set the maximum widths (here 8): the trainers get them too.
    narrow = resolve({"budget": 10 ** 9, "baseline": True, "search_space": {"*": {"dim": 8}}})
    assert narrow.budget == 150 * 8 and {f.output_dim for f in narrow.features.values()} == {8}
    # An MES searched under the capped budget trains under the pipeline's larger one.
    mes = ModelSpec(budget=full, mode="ME", features={"a": FeatureMES([(10, 16), (90, 4)]),
                                                       "b": FeatureMES([])})
    assert resolve({"mes_uri": _mes_file(tmp_path, mes), "budget": 10 ** 9}) == mes


def test_baseline_width_never_exceeds_the_search_space_maximum():
    # Uncapped, budget // sum(v) = 10**6 // 150 = 6,666 columns per table; capped at the
    # full model (100 x 64 + 50 x 32 floats) the width is about their average (53.3 floats per
    # item: width 54 with the most frequent items fills the budget best), below 64.
    spec = resolve({"budget": 10 ** 6, "baseline": True, "search_space": {"a": {"dim": 64}}})
    assert {f.output_dim for f in spec.features.values()} == {54} and spec.cost() <= 8000
    # A hand-given width above the maximum is narrowed to it.
    wide = resolve({"budget": 4000, "baseline": True, "baseline_dim": 512})
    assert {f.output_dim for f in wide.features.values()} == {32} and wide.cost() <= 4000


def test_baseline_dims_give_one_spec_per_width_at_the_same_budget(tmp_path):
    config = TrainerConfig.from_custom_config({"dataset": DATASET.to_dict(), "budget": 1500,
                                               "baseline": True, "baseline_dims": [1, 2, 4, 64]})
    specs = run_fn.resolve_specs(config, SIZES)
    # 64 is above the maximum width (32): narrowed to it; every spec within the budget.
    assert [s.metadata["dim"] for s in specs] == [1, 2, 4, 32]
    assert all(s.cost() <= 1500 and s.budget == 1500 for s in specs)
    # An MES without "baseline" is trained as it is; the grid is the baseline's.
    mes = TrainerConfig.from_custom_config({"dataset": DATASET.to_dict(),
                                            "mes_uri": _mes_file(tmp_path),
                                            "baseline_dims": [1, 2]})
    assert run_fn.resolve_specs(mes, SIZES) == [SPEC]
    with pytest.raises(ValueError, match=r"custom_config\['baseline_dims'\] must be >= 1"):
        TrainerConfig.from_custom_config({"dataset": DATASET.to_dict(), "baseline_dims": [0]})
