"""Small fake artifacts of a finished run for the RunReport tests (``conftest.fake_run``).

``make_run(root)`` lays out what RunReport reads: the searched MES, the search
results (with history rows), TFMA evaluations (``metrics`` TFRecord of
``MetricsForSlice``, the file ``tfma.load_metrics`` reads), the BlessingGate's blessing
and the SE baseline's ``ModelRun`` with its ``mes_summary.json``.
"""
import json
import os
from typing import Dict, Optional

import tensorflow as tf
from tensorflow_model_analysis.proto import metrics_for_slice_pb2
from tfx.types import standard_artifacts

from components import artifacts
from components.gates import blessing as blessing_gate
from trainer_module.search.config import SearchResult
from trainer_module.spec.mes import FeatureMES, ModelSpec

BUDGET = 10_000
CANDIDATE = ModelSpec(budget=BUDGET, mode="ME", features={
    "item": FeatureMES([(100, 16), (200, 4)]), "user": FeatureMES([(50, 8)]),
    "genre": FeatureMES([])})
BASELINE = ModelSpec(budget=BUDGET, mode="SE", features={
    "item": FeatureMES([(300, 4)]), "user": FeatureMES([(50, 4)]), "genre": FeatureMES([(5, 4)])},
    metadata={"baseline": "uniform_se"})


def history_rows(n: int = 6, entropy: bool = True):
    """Rows shaped like ``checkpointing.progress_row``: two warm-up rows, then search rows."""
    rows = []
    for i in range(n):
        warm = i < 2
        rows.append({"step": 10 * (i + 1), "phase": "warmup" if warm else "search",
                     "main_loss": 0.7 - 0.02 * i,
                     "mean_reward": None if warm else 0.5 + 0.03 * i,
                     "mean_objective": None if warm else 0.55 + 0.03 * i,
                     "mean_cost_ratio": None if warm else 1.1 - 0.05 * i,
                     "most_probable_cost_ratio": 0.9,
                     "mes": {}, **({"controller_entropy": 1.6 - 0.2 * i} if entropy else {})})
    return rows


def write_evaluation(path: str, metrics: Dict[str, Dict[str, float]]):
    """A ModelEvaluation at ``path`` whose overall slice holds ``metrics`` (model -> name ->
    value), as TFMA writes it."""
    os.makedirs(path, exist_ok=True)
    record = metrics_for_slice_pb2.MetricsForSlice()
    record.slice_key.SetInParent()
    for model, values in metrics.items():
        for name, value in values.items():
            kv = record.metric_keys_and_values.add()
            kv.key.name, kv.key.model_name = name, model
            kv.value.double_value.value = value
    with tf.io.TFRecordWriter(os.path.join(path, "metrics.tfrecord")) as writer:
        writer.write(record.SerializeToString())
    evaluation = standard_artifacts.ModelEvaluation()
    evaluation.uri = path
    return evaluation


def blessing_artifact(path: str, blessed: Optional[bool], reason: str = ""):
    artifact = standard_artifacts.ModelBlessing()
    artifact.uri = path
    if blessed is not None:
        artifact.set_int_custom_property(blessing_gate.BLESSED_KEY, int(blessed))
        artifact.set_string_custom_property(blessing_gate.REASON_KEY, reason)
    return artifact


def baseline_model_run(path: str, spec: ModelSpec = BASELINE, grid=()):
    """The SE baseline trainer's ModelRun with the ``mes_summary.json`` it writes (and, for a
    ``baseline_dims`` grid of widths ``grid``, the ``training.json`` that records it)."""
    os.makedirs(path, exist_ok=True)
    if grid:
        with open(os.path.join(path, "training.json"), "w", encoding="utf-8") as f:
            json.dump({"baseline_grid": [{"dim": d, "floats": 0, "best_value": 0.5}
                                         for d in grid]}, f)
    with open(os.path.join(path, "mes_summary.json"), "w", encoding="utf-8") as f:
        json.dump({"budget": spec.budget, "mode": spec.mode, "accounting": spec.accounting,
                   "embedding_cost": spec.cost(), "baseline": "uniform_se",
                   "mes": spec.to_dict()["features"]}, f)
    run = standard_artifacts.ModelRun()
    run.uri = path
    return run


CANDIDATE_METRICS = {"auc": 0.71, "binary_accuracy": 0.66, "mean_label": 0.3,
                     "example_count": 300.0}
BASELINE_METRICS = {"auc": 0.69, "binary_accuracy": 0.65, "mean_label": 0.3,
                    "example_count": 300.0}
SERVING_METRICS = {"auc": 0.70, "binary_accuracy": 0.64, "mean_label": 0.3,
                   "example_count": 300.0}


def make_run(tmp_path):
    """Every RunReport input of a scheduled re-run (the serving model exists), by input name."""
    mes = artifacts.MultiSizeEmbeddingSpec()
    mes.uri = str(tmp_path / "mes")
    artifacts.write_mes(mes, CANDIDATE)
    results = artifacts.SearchResults()
    results.uri = str(tmp_path / "results")
    artifacts.write_search_results(results, SearchResult(CANDIDATE, history_rows(), {}), "ranking")
    model_run = standard_artifacts.ModelRun()
    model_run.uri = str(tmp_path / "model_run")
    return {
        "embedding_spec": mes, "search_results": results, "model_run": model_run,
        "baseline_model_run": baseline_model_run(str(tmp_path / "baseline_run")),
        "evaluation": write_evaluation(str(tmp_path / "evaluation"), {
            "candidate": CANDIDATE_METRICS, "baseline": BASELINE_METRICS}),
        "serving_evaluation": write_evaluation(str(tmp_path / "serving_evaluation"), {
            "candidate": CANDIDATE_METRICS, "baseline": SERVING_METRICS}),
        "blessing": blessing_artifact(str(tmp_path / "blessing"), True,
                                      "every comparison blessed it"),
        "key_metric": "auc",
    }
