"""make_eval_config: model specs, Recall@K metrics, blessing thresholds."""
import json

import pytest

from components.mes_trainer.eval_config import make_eval_config


def test_retrieval_config_reads_transformed_label_and_scores():
    cfg = make_eval_config("retrieval", with_baseline=True, min_value=0.1, max_regression=0.0)
    cand, base = cfg.model_specs
    assert (cand.name, cand.is_baseline, base.name, base.is_baseline) == \
        ("candidate", False, "baseline", True)
    assert cand.label_key == "label" and cand.prediction_key == "scores"
    assert list(cand.preprocessing_function_names) == ["transformed_features"]
    metrics = {json.loads(m.config or "{}").get("name", m.class_name): m
               for m in cfg.metrics_specs[0].metrics}
    assert set(metrics) == {"ExampleCount", "recall_at_1", "recall_at_5"}
    assert json.loads(metrics["recall_at_5"].config)["top_k"] == 5
    threshold = metrics["recall_at_5"].threshold
    assert threshold.value_threshold.lower_bound.value == pytest.approx(0.1)
    assert threshold.change_threshold.absolute.value < 0  # tolerance just below 0
    assert not metrics["recall_at_1"].HasField("threshold")


def test_ranking_config_and_errors():
    cfg = make_eval_config("ranking", min_value=0.6)
    assert len(cfg.model_specs) == 1 and cfg.model_specs[0].prediction_key == "probability"
    auc = [m for m in cfg.metrics_specs[0].metrics if m.class_name == "AUC"][0]
    assert auc.threshold.value_threshold.lower_bound.value == pytest.approx(0.6)
    with pytest.raises(ValueError, match="with_baseline"):
        make_eval_config("ranking", max_regression=0.01)
    with pytest.raises(ValueError, match="task"):
        make_eval_config("ctr")
