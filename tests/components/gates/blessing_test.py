"""Tests of BlessingGate's verdict: blessed only when every wired comparison blessed."""
import os

import pytest
from tfx.types import standard_artifacts

from components.gates import blessing as blessing_gate


def _blessing(tmp_path, name, blessed=None):
    artifact = standard_artifacts.ModelBlessing()
    artifact.uri = str(tmp_path / name)
    if blessed is not None:
        artifact.set_int_custom_property("blessed", int(blessed))
    return artifact


def _model(tmp_path):
    model = standard_artifacts.Model()
    model.uri, model.id = str(tmp_path / "model"), 7
    return model


@pytest.mark.parametrize("baseline,serving,expected", [
    (True, True, True), (True, None, True), (False, True, False), (True, False, False),
    (True, "unset", False)])
def test_gate_blesses_only_when_every_comparison_blessed(tmp_path, baseline, serving, expected):
    serving_artifact = (None if serving is None else
                        _blessing(tmp_path, "serving", None if serving == "unset" else serving))
    out = _blessing(tmp_path, "out")
    assert blessing_gate.write_blessing(_model(tmp_path), out, _blessing(tmp_path, "se", baseline),
                                        serving_artifact) is expected
    assert out.get_int_custom_property("blessed") == int(expected)
    assert os.path.exists(os.path.join(out.uri, "BLESSED" if expected else "NOT_BLESSED"))
    # What LatestBlessedModelStrategy and the Kubeflow V2 resolver read back next run.
    assert out.get_int_custom_property("current_model_id") == 7
    assert out.get_int_custom_property(blessing_gate.FINAL_BLESSING_KEY) == 1
    if not expected:
        assert "did not bless" in out.get_string_custom_property(blessing_gate.REASON_KEY)


@pytest.mark.parametrize("metrics, key, reason", [
    ({"auc": 0.0, "mean_label": 0.0}, "auc",
     "the candidate's auc is undefined (every evaluation label is 0: one class)"),
    ({"auc": 0.0, "mean_label": 1.0}, "auc", "every evaluation label is 1: one class"),
    ({"auc": float("nan"), "mean_label": 0.4}, "auc", "the candidate's auc is undefined"),
    ({"recall_at_5": float("nan")}, "recall_at_5", "the candidate's recall_at_5 is undefined"),
    ({"example_count": 10.0}, "auc", "the candidate's auc was not computed"),
])
def test_an_undefined_key_metric_never_blesses(tmp_path, metrics, key, reason):
    """Even when every comparison blessed (e.g. no thresholds), an undefined metric does not."""
    out = _blessing(tmp_path, "out")
    assert blessing_gate.write_blessing(_model(tmp_path), out, _blessing(tmp_path, "se", True),
                                        _blessing(tmp_path, "serving", True), metrics,
                                        key) is False
    assert out.get_int_custom_property("blessed") == 0
    assert reason in out.get_string_custom_property(blessing_gate.REASON_KEY)


def test_a_defined_key_metric_blesses(tmp_path):
    out = _blessing(tmp_path, "out")
    assert blessing_gate.write_blessing(_model(tmp_path), out, _blessing(tmp_path, "se", True),
                                        None, {"auc": 0.7, "mean_label": 0.3}, "auc") is True
