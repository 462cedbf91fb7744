"""BlessingGate: one blessing from the two comparisons a scheduled run makes.

A run's candidate is compared twice: by ``Evaluator`` with the same-run SE
baseline, and by ``ServingEvaluator`` with the latest blessed model of the
pipeline (what serves; TFX's ``LatestBlessedModelStrategy`` resolves it, and on
the first run, with nothing resolved, TFMA ignores the change threshold). TFX's
Evaluator takes one baseline and Pusher one blessing, so this python-function
component blesses the candidate only when every wired comparison blessed it.

Its ``blessing`` is the one the Pusher checks and the one the resolver reads
back on the next run: it carries ``current_model`` / ``current_model_id`` like
an Evaluator's, plus ``FINAL_BLESSING_KEY`` so the Kubeflow V2 resolver query
(which filters ModelBlessings by properties only) can tell it from the
Evaluators' own blessings (see ``pipelines.runners.kubeflow_v2``).

An undefined metric never blesses: with ``evaluation`` (the Evaluator's
``ModelEvaluation``) and ``key_metric`` wired, the candidate is not blessed when
its key metric is absent, NaN or infinite, or is an AUC over labels of one class
(``mean_label`` 0 or 1: keras/TFMA report such an AUC as 0.0, a number it is
not), whatever the thresholds said.

Usage::

    gate = BlessingGate(model=trainer.outputs['model'],
                        baseline_blessing=evaluator.outputs['blessing'],
                        serving_blessing=serving_evaluator.outputs['blessing'],
                        evaluation=evaluator.outputs['evaluation'], key_metric='auc')
    pusher = Pusher(model=..., model_blessing=gate.outputs['blessing'], ...)
"""
import collections
import math
import os
from typing import Dict, Optional, Set

from tfx import types
from tfx import v1 as tfx
from tfx.dsl.io import fileio

BLESSED_KEY = "blessed"
FINAL_BLESSING_KEY = "nis_final_blessing"
REASON_KEY = "blessing_reason"


MEAN_LABEL = "mean_label"


def read_metrics(evaluation_uri: str) -> Dict[str, Dict[str, float]]:
    """Overall-slice metrics of a TFMA evaluation: model name -> metric name -> value."""
    import tensorflow_model_analysis as tfma  # pylint: disable=import-outside-toplevel
    result: Dict[str, Dict[str, float]] = collections.defaultdict(dict)
    for metrics in tfma.load_metrics(evaluation_uri):
        if metrics.slice_key.single_slice_keys:
            continue
        for kv in metrics.metric_keys_and_values:
            value = kv.value
            if not value.HasField("double_value") or kv.key.is_diff:
                continue
            name = kv.key.name
            if kv.key.HasField("sub_key") and kv.key.sub_key.HasField("top_k"):
                k = str(kv.key.sub_key.top_k.value)
                name = name if name.endswith(k) else f"{name}@{k}"  # recall_at_5 stays
            result[kv.key.model_name or "candidate"][name] = value.double_value.value
    return dict(result)


def undefined_metrics(metrics: Dict[str, float]) -> Set[str]:
    """Names of one model's metrics that have no meaningful value: NaN or infinite, and AUC
    when every label is the same (``mean_label`` 0 or 1, or absent labels)."""
    undefined = {n for n, v in metrics.items() if v is None or not math.isfinite(v)}
    mean_label = metrics.get(MEAN_LABEL)
    if "auc" in metrics and mean_label is not None and (
            not math.isfinite(mean_label) or mean_label <= 0.0 or mean_label >= 1.0):
        undefined.add("auc")
    return undefined


def metric_problem(metrics: Optional[Dict[str, float]], key_metric: str) -> str:
    """"" when the candidate's ``key_metric`` has a value, else why it has none."""
    if metrics is None or not key_metric:
        return ""
    if key_metric not in metrics:
        return f"the candidate's {key_metric} was not computed"
    if key_metric in undefined_metrics(metrics):
        one_class = f" (every evaluation label is {metrics[MEAN_LABEL]:g}: one class)" if (
            MEAN_LABEL in metrics and math.isfinite(metrics[MEAN_LABEL])) else ""
        return f"the candidate's {key_metric} is undefined{one_class}"
    return ""


def is_blessed(blessing: Optional[types.Artifact]) -> bool:
    """True when ``blessing`` carries ``blessed == 1``."""
    return (blessing is not None and blessing.has_custom_property(BLESSED_KEY)
            and blessing.get_int_custom_property(BLESSED_KEY) == 1)


def verdict(baseline_blessing: Optional[types.Artifact],
            serving_blessing: Optional[types.Artifact],
            candidate_metrics: Optional[Dict[str, float]] = None, key_metric: str = "") -> str:
    """"" when every wired comparison blessed the candidate and its key metric is defined,
    else the reason it is not blessed."""
    reasons = [f"{name} comparison did not bless it" for name, b in
               (("Evaluator (threshold, same-run SE baseline)", baseline_blessing),
                ("ServingEvaluator (latest blessed model)", serving_blessing))
               if b is not None and not is_blessed(b)]
    problem = metric_problem(candidate_metrics, key_metric)
    return "; ".join(reasons + ([problem] if problem else []))


def write_blessing(model: types.Artifact, blessing: types.Artifact,
                   baseline_blessing: Optional[types.Artifact],
                   serving_blessing: Optional[types.Artifact],
                   candidate_metrics: Optional[Dict[str, float]] = None,
                   key_metric: str = "") -> bool:
    """Writes ``blessing`` (file + custom properties) for ``model``; returns whether blessed."""
    reason = verdict(baseline_blessing, serving_blessing, candidate_metrics, key_metric)
    fileio.makedirs(blessing.uri)
    with fileio.open(os.path.join(blessing.uri, "NOT_BLESSED" if reason else "BLESSED"), "w") as f:
        f.write(reason)
    blessing.set_int_custom_property(BLESSED_KEY, 0 if reason else 1)
    blessing.set_int_custom_property(FINAL_BLESSING_KEY, 1)
    blessing.set_string_custom_property(REASON_KEY, reason or "every comparison blessed it")
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_int_custom_property("current_model_id", model.id)
    return not reason


@tfx.dsl.components.component
def BlessingGate(  # pylint: disable=invalid-name
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    blessing: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    baseline_blessing: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ModelBlessing] = None,
    serving_blessing: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ModelBlessing] = None,
    evaluation: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ModelEvaluation] = None,
    key_metric: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Blesses ``model`` iff each given blessing is blessed and its key metric is defined;
    records the reason otherwise."""
    metrics = None
    if evaluation is not None and key_metric:
        metrics = read_metrics(evaluation.uri).get("candidate", {})
    write_blessing(model, blessing, baseline_blessing, serving_blessing, metrics, key_metric)
