"""TFMA EvalConfig for models exported by ``trainer_module.model.trainer``.

How the metrics reach the right tensors:

* predictions come from raw tf.Examples: ``serving_default``'s ``probability``
  ``[B, 1]`` (ranking) or ``serving_scores``' ``scores`` ``[B, num_labels]``
  (retrieval, softmax over the full label vocabulary; the retrieval
  ``serving_default`` returns only the top-K items, see
  ``trainer_module.model.serving``);
* the label is the *transformed* ``label`` (the 0/1 label, or the label item's
  id in the label vocabulary): ``preprocessing_function_names =
  ['transformed_features']`` makes TFMA run that signature first, and TFMA
  looks ``label_key`` up in the transformed features before the raw ones;
* Recall@K over the full vocabulary is TFMA's ``Recall`` with ``top_k = K``:
  the sparse label id is one-hot encoded, every score outside the top K is set
  to -inf and the threshold is -inf, so recall = share of examples whose label
  is among the K highest scores. Labels outside the vocabulary (id -1) encode
  as all zeros and count in neither numerator nor denominator (as in training).

Example::

    evaluator = Evaluator(examples=example_gen.outputs['examples'],
                          model=trainer.outputs['model'],
                          baseline_model=baseline_trainer.outputs['model'],
                          eval_config=make_eval_config('retrieval', with_baseline=True))
"""
from __future__ import annotations

import json
from typing import List, Optional, Sequence

import tensorflow_model_analysis as tfma

from trainer_module.data.features import LABEL_KEY, TASKS
from trainer_module.model.serving import RANKING_OUTPUT, RETRIEVAL_OUTPUT, SCORES_SIGNATURE, \
    SERVING_SIGNATURE, TRANSFORM_SIGNATURE

CANDIDATE = "candidate"
BASELINE = "baseline"


def model_spec(task: str, name: str = CANDIDATE, is_baseline: bool = False) -> tfma.ModelSpec:
    """The ModelSpec of one model: predictions from ``serving_default`` (ranking) or from
    ``serving_scores`` (retrieval), the label from ``transformed_features``."""
    signature = SERVING_SIGNATURE if task == "ranking" else SCORES_SIGNATURE
    return tfma.ModelSpec(
        name=name, is_baseline=is_baseline, signature_name=signature,
        preprocessing_function_names=[TRANSFORM_SIGNATURE], label_key=LABEL_KEY,
        prediction_key=RANKING_OUTPUT if task == "ranking" else RETRIEVAL_OUTPUT)


def metric_configs(task: str) -> List[tfma.MetricConfig]:
    """ExampleCount plus AUC/BinaryAccuracy/Calibration/MeanLabel (ranking; MeanLabel 0 or 1
    marks an AUC as undefined, see ``components.gates.blessing``); Recall@K specs are separate."""
    configs = [tfma.MetricConfig(class_name="ExampleCount")]
    if task == "ranking":
        configs += [tfma.MetricConfig(class_name="AUC"),
                    tfma.MetricConfig(class_name="BinaryAccuracy"),
                    tfma.MetricConfig(class_name="Calibration"),
                    tfma.MetricConfig(class_name="MeanLabel")]
    return configs


def recall_spec(k: int, threshold: Optional[tfma.MetricThreshold] = None) -> tfma.MetricsSpec:
    """Recall@K over the full label vocabulary.

    The top-k lives in the spec's ``binarize`` options (not in the metric config) so the
    metric key carries the ``topK:k`` sub-key that thresholds are matched against.
    """
    cfg = tfma.MetricConfig(class_name="Recall", config=json.dumps({"name": f"recall_at_{k}"}))
    if threshold is not None:
        cfg.threshold.CopyFrom(threshold)
    return tfma.MetricsSpec(metrics=[cfg],
                            binarize=tfma.BinarizationOptions(top_k_list={"values": [int(k)]}))


def key_metric(task: str, recall_ks: Sequence[int] = (1, 5)) -> str:
    """The metric a blessing compares: AUC, or recall at the largest K."""
    return "auc" if task == "ranking" else f"recall_at_{max(recall_ks)}"


def make_eval_config(task: str, with_baseline: bool = False, recall_ks: Sequence[int] = (1, 5),
                     min_value: Optional[float] = None,
                     max_regression: Optional[float] = None) -> tfma.EvalConfig:
    """EvalConfig of one candidate (and optionally a baseline) model.

    Args:
      task: "ranking" or "retrieval".
      with_baseline: add a baseline ModelSpec (wire Evaluator's ``baseline_model``).
      recall_ks: K of the retrieval Recall@K metrics.
      min_value: bless only if the key metric is at least this.
      max_regression: bless only if the key metric is at most this much below the
        baseline's (needs ``with_baseline``; 0.0 = no worse than the baseline).
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {TASKS}, got {task!r}")
    if max_regression is not None and not with_baseline:
        raise ValueError("max_regression compares with a baseline: set with_baseline=True")
    configs = metric_configs(task)
    key = key_metric(task, recall_ks)
    threshold = tfma.MetricThreshold()
    if min_value is not None:
        threshold.value_threshold.lower_bound.value = float(min_value)
    if max_regression is not None:
        threshold.change_threshold.direction = tfma.MetricDirection.HIGHER_IS_BETTER
        threshold.change_threshold.absolute.value = -float(max_regression) - 1e-10
    has_threshold = min_value is not None or max_regression is not None
    if has_threshold and task == "ranking":
        for cfg in configs:
            if cfg.class_name.lower() == key:
                cfg.threshold.CopyFrom(threshold)
    metrics_specs = [tfma.MetricsSpec(metrics=configs)]
    if task == "retrieval":
        metrics_specs += [recall_spec(k, threshold if has_threshold and f"recall_at_{k}" == key else None)
                          for k in recall_ks]
    specs = [model_spec(task)] + ([model_spec(task, BASELINE, True)] if with_baseline else [])
    return tfma.EvalConfig(model_specs=specs, slicing_specs=[tfma.SlicingSpec()],
                           metrics_specs=metrics_specs)
