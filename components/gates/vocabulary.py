"""VocabularyGate: checks that need the vocabularies, run right after Transform, before any trainer.

Once Transform has computed the frequency-ordered vocabularies, two facts
decide whether searching and training can give a meaningful model:

* the budget is feasible: some non-empty configuration of the search space
  fits it (``SearchSpace.check_feasible``, the search's own check), and the
  uniform SE baseline can embed at least one item of every feature. An
  infeasible budget (``--budget 1``) otherwise surfaces only in the search,
  after the BaselineTrainer has trained a degenerate model;
* retrieval only: the share of evaluation examples whose label is absent
  from the training label vocabulary. Recall@K cannot score those examples;
  above ``max_oov_label_share`` the run stops, and the share is returned as an
  output value so the run report shows it.

The NeuralInputSearch and both trainers list this component as an upstream
node, so on every orchestrator they start only after it passed. Labels are
counted on up to ``MAX_EXAMPLES`` raw examples per split.

Usage::

    gate = VocabularyGate(examples=example_gen.outputs['examples'],
                          transform_graph=transform.outputs['transform_graph'],
                          dataset=dataset.to_json(), budget=2000, mode='ME',
                          eval_splits='eval,test')
    search.add_upstream_node(gate)
"""

import glob
import os
from typing import Dict, List, Sequence, TypedDict

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx import v1 as tfx
from tfx.types import artifact_utils

from trainer_module.data import features
from trainer_module.data import preprocessing

MAX_EXAMPLES = 200_000
OOV_SHARE_KEY = "oov_label_share"


class GateOutputs(TypedDict):
    """The gate's output value: the worst eval-split share of labels unseen in training."""

    oov_label_share: float


class InfeasibleRunError(ValueError):
    """The budget or the labels make every model of this run meaningless; the message says why."""


def budget_problems(vocab_sizes: Dict[str, int], budget: int, mode: str, search_space: str,
                    check_baseline: bool) -> List[str]:
    """Why the search or the SE baseline cannot fit ``budget`` ([] when both can)."""
    from components.neural_input_search.executor import build_search_space  # pylint: disable=import-outside-toplevel
    from components.neural_input_search.request import search_space_overrides  # pylint: disable=import-outside-toplevel
    from trainer_module.model import trainer as run_fn  # pylint: disable=import-outside-toplevel
    problems = []
    try:
        build_search_space(vocab_sizes, budget, mode, search_space or None)
    except ValueError as e:
        problems.append(f"infeasible budget for the search (vocabulary sizes {vocab_sizes}): {e}")
    if check_baseline:
        try:
            overrides = search_space_overrides(search_space or None, list(vocab_sizes))
            run_fn.trainable(run_fn.baseline_spec(vocab_sizes, budget, search_space=overrides),
                             vocab_sizes)
        except ValueError as e:
            problems.append(f"infeasible budget for the BaselineTrainer: {e}")
    return problems


def oov_problems(shares: Dict[str, float], label: str, vocabulary_size: int,
                 max_share: float) -> List[str]:
    """Splits whose share of unseen labels is over ``max_share`` (or 100%: nothing to score)."""
    return [f"retrieval labels unseen in training: {100 * v:.1f}% of the {s} split's {label!r} "
            f"values are not in the training label vocabulary ({vocabulary_size} labels), over "
            f"max_oov_label_share {max_share:g}; Recall@K cannot score them"
            for s, v in shares.items() if v > max_share or v >= 1.0]


def _label_strings(files: Sequence[str], label: str, limit: int) -> List[str]:
    """Raw label values as ``preprocessing_fn`` sees them (stripped strings), first ``limit``."""
    values: List[str] = []
    for record in tf.data.TFRecordDataset(list(files), compression_type="GZIP").take(limit):
        feature = tf.train.Example.FromString(record.numpy()).features.feature.get(label)
        kind = feature.WhichOneof("kind") if feature is not None else None
        raw = list(getattr(feature, kind).value) if kind else []
        text = (raw[0].decode("utf-8", "replace") if isinstance(raw[0], bytes) else str(raw[0])
                ) if raw else ""
        values.append(text.strip())
    return values


def oov_label_share(examples_uri: str, split: str, label: str, vocabulary: Sequence[str]) -> float:
    """Share of ``split``'s examples whose label is missing or not in ``vocabulary``."""
    split_dir = os.path.join(examples_uri, f"Split-{split}")
    values = _label_strings(sorted(glob.glob(os.path.join(split_dir, "*"))), label, MAX_EXAMPLES)
    if not values:
        return 0.0
    known = set(vocabulary)
    return sum(1 for v in values if v not in known) / len(values)


@tfx.dsl.components.component
def VocabularyGate(  # pylint: disable=invalid-name
    examples: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Examples],
    transform_graph: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.TransformGraph],
    dataset: tfx.dsl.components.Parameter[str],
    budget: tfx.dsl.components.Parameter[int],
    mode: tfx.dsl.components.Parameter[str],
    search_space: tfx.dsl.components.Parameter[str] = "",
    check_baseline: tfx.dsl.components.Parameter[bool] = True,
    eval_splits: tfx.dsl.components.Parameter[str] = "eval",
    max_oov_label_share: tfx.dsl.components.Parameter[float] = 0.2,
) -> GateOutputs:
    """Raises InfeasibleRunError (see the module docstring); returns the worst OOV label share."""
    ds = preprocessing.as_dataset_config(dataset)
    tft_out = tft.TFTransformOutput(transform_graph.uri)
    vocab_sizes = preprocessing.vocab_sizes_from_transform_output(tft_out, ds)
    problems = budget_problems(vocab_sizes, budget, mode, search_space, check_baseline)
    worst = 0.0
    if ds.task == "retrieval":
        vocabulary = [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v)
                      for v in tft_out.vocabulary_by_name(features.LABEL_VOCAB)]
        available = artifact_utils.decode_split_names(examples.split_names)
        shares = {s: oov_label_share(examples.uri, s, ds.label, vocabulary)
                  for s in eval_splits.split(",") if s in available}
        for split, share in shares.items():
            logging.info("VocabularyGate: %.1f%% of the %s split's labels (%s) are not in the "
                         "training label vocabulary", 100 * share, split, ds.label)
        worst = max(shares.values(), default=0.0)
        problems += oov_problems(shares, ds.label, len(vocabulary), max_oov_label_share)
    if problems:
        raise InfeasibleRunError("stopping before the search and the trainers:\n  "
                                 + "\n  ".join(problems))
    return {OOV_SHARE_KEY: float(worst)}
