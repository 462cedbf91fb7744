"""make_eval_config: model specs, Recall@K metrics, blessing thresholds."""
import json

import pytest

from tensorflow_model_analysis.metrics import metric_specs

from components.mes_trainer.eval_config import make_eval_config


def test_retrieval_config_reads_transformed_label_and_scores():
    cfg = make_eval_config("retrieval", with_baseline=True, min_value=0.1, max_regression=0.0)
    cand, base = cfg.model_specs
    assert (cand.name, cand.is_baseline, base.name, base.is_baseline) == \
        ("candidate", False, "baseline", True)
    assert cand.label_key == "label" and cand.prediction_key == "scores"
    # The full score vector: the retrieval serving_default returns only the top-K items.
    assert cand.signature_name == base.signature_name == "serving_scores"
    assert list(cand.preprocessing_function_names) == ["transformed_features"]
    metrics = {json.loads(m.config or "{}").get("name", m.class_name): (m, spec)
               for spec in cfg.metrics_specs for m in spec.metrics}
    assert set(metrics) == {"ExampleCount", "recall_at_1", "recall_at_5"}
    recall5, spec5 = metrics["recall_at_5"]
    assert list(spec5.binarize.top_k_list.values) == [5]
    threshold = recall5.threshold
    assert threshold.value_threshold.lower_bound.value == pytest.approx(0.1)
    assert threshold.change_threshold.absolute.value < 0  # tolerance just below 0
    assert not metrics["recall_at_1"][0].HasField("threshold")
    # The threshold's key carries the topK:5 sub-key the computed metric has (else TFMA never blesses).
    keys = metric_specs.metric_thresholds_from_metrics_specs(cfg.metrics_specs)
    recall_keys = [k for k in keys if k.name == "recall_at_5"]
    assert recall_keys and all(k.sub_key.top_k == 5 for k in recall_keys)

def test_ranking_config_and_errors():
    cfg = make_eval_config("ranking", min_value=0.6)
    assert len(cfg.model_specs) == 1 and cfg.model_specs[0].prediction_key == "probability"
    assert cfg.model_specs[0].signature_name == "serving_default"
    auc = [m for m in cfg.metrics_specs[0].metrics if m.class_name == "AUC"][0]
    assert auc.threshold.value_threshold.lower_bound.value == pytest.approx(0.6)
    with pytest.raises(ValueError, match="with_baseline"):
        make_eval_config("ranking", max_regression=0.01)
    with pytest.raises(ValueError, match="task"):
        make_eval_config("ctr")
