"""run_fn: MES vs. baseline choice, budget source, vocabulary checks, steps per call."""
import pytest

from trainer_module.model import trainer as run_fn
from trainer_module.spec.mes import FeatureMES, ModelSpec

SIZES = {"a": 100, "b": 50}
SPEC = ModelSpec(budget=2000, mode="ME", features={"a": FeatureMES([(10, 16), (90, 4)]),
                                                    "b": FeatureMES([])})


def _mes_file(tmp_path, spec=SPEC):
    path = tmp_path / "mes.json"
    path.write_text(spec.to_json())
    return str(path)


def test_mes_is_used_when_given(tmp_path):
    assert run_fn.resolve_spec({"mes_uri": _mes_file(tmp_path)}, SIZES) == SPEC


def test_baseline_when_no_mes_or_forced(tmp_path):
    spec = run_fn.resolve_spec({"budget": 1500}, SIZES)
    assert spec.mode == "SE" and spec.metadata["baseline"] == "uniform_se" and spec.cost() <= 1500
    forced = run_fn.resolve_spec({"mes_uri": _mes_file(tmp_path), "baseline": True}, SIZES)
    assert forced.budget == 2000 and forced.metadata["baseline"] == "uniform_se"
    dim4 = run_fn.resolve_spec({"budget": 1500, "baseline_dim": 4}, SIZES)
    assert {f.output_dim for f in dim4.features.values()} == {4}
    with pytest.raises(ValueError, match="needs custom_config\\['budget'\\]"):
        run_fn.resolve_spec({}, SIZES)


def test_mes_larger_than_vocabulary_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="exceeds the feature's vocabulary of 60"):
        run_fn.resolve_spec({"mes_uri": _mes_file(tmp_path)}, {"a": 60, "b": 50})
    with pytest.raises(FileNotFoundError):
        run_fn.resolve_spec({"mes_uri": str(tmp_path / "missing.json")}, SIZES)


def test_degenerate_specs_are_never_trained(tmp_path):
    # A one-float budget: the uniform baseline cannot embed an item of every feature.
    with pytest.raises(ValueError, match=r"embeds no item of \['b'\]; refusing to train"):
        run_fn.resolve_spec({"budget": 1}, SIZES)
    empty = ModelSpec(budget=2000, mode="ME", features={"a": FeatureMES([]), "b": FeatureMES([])})
    with pytest.raises(ValueError, match=r"embeds no item of \['a', 'b'\]; refusing"):
        run_fn.resolve_spec({"mes_uri": _mes_file(tmp_path, empty)}, SIZES)


def test_mes_over_the_pipeline_budget_is_refused(tmp_path):
    path = _mes_file(tmp_path)
    assert run_fn.resolve_spec({"mes_uri": path, "budget": 2000}, SIZES) == SPEC
    with pytest.raises(ValueError, match=f"MES {path} says budget 2,000 floats but the pipeline "
                                         "config recorded 1,000"):
        run_fn.resolve_spec({"mes_uri": path, "budget": 1000}, SIZES)


@pytest.mark.parametrize("value", [0, -3])
def test_steps_per_execution_below_one_is_refused_by_name(value):
    assert run_fn.steps_per_execution({}) == 1 and run_fn.steps_per_execution({"steps_per_execution": 8}) == 8
    with pytest.raises(ValueError, match="steps_per_execution must be >= 1"):
        run_fn.steps_per_execution({"steps_per_execution": value})
