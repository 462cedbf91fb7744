"""Data checks the schema cannot express, read from StatisticsGen's statistics.

``AnomaliesGate`` runs them next to ExampleValidator's anomalies, before
Transform, whether the schema was imported or inferred:

* every split has at least one example (an empty or header-only CSV would
  otherwise reach the trainers and fail there without naming the input);
* a ranking label is numeric, present in every example and only 0 or 1: the
  trainers read it as a binary click, so ``5``, ``-1``, ``yes`` or an empty cell
  would otherwise be a silently wrong label;
* a ranking label takes both values in every split: with one class AUC is
  undefined, so the eval split's rewards, the test split's metrics and the
  blessing would be numbers without meaning.

Whether every label is 0 or 1 follows exactly from the numeric statistics:
with ``min >= 0`` and ``max <= 1`` the values are all 0 or 1 only when their
sum (``mean * count``) equals the number of non-zero values.

Example::

    problems = check_statistics(stats_uri, ["train", "eval"], label="clicked", task="ranking")
"""
from __future__ import annotations

import os
from typing import List, Optional

from tensorflow_metadata.proto.v0 import statistics_pb2
from tfx.dsl.io import fileio

STATS_FILE = "FeatureStats.pb"


def read_statistics(uri: str, split: str) -> Optional[statistics_pb2.DatasetFeatureStatistics]:
    """The statistics of ``split`` under ``uri`` (None when the file or its dataset is absent)."""
    path = os.path.join(uri, f"Split-{split}", STATS_FILE)
    if not fileio.exists(path):
        return None
    stats = statistics_pb2.DatasetFeatureStatisticsList()
    with fileio.open(path, "rb") as f:
        stats.ParseFromString(f.read())
    return stats.datasets[0] if stats.datasets else statistics_pb2.DatasetFeatureStatistics()


def _feature(stats: statistics_pb2.DatasetFeatureStatistics,
             name: str) -> Optional[statistics_pb2.FeatureNameStatistics]:
    for feature in stats.features:
        if feature.name == name or list(feature.path.step) == [name]:
            return feature
    return None


def _examples_of(feature: statistics_pb2.FeatureNameStatistics) -> str:
    top = feature.string_stats.top_values or feature.string_stats.rank_histogram.buckets
    values = [getattr(v, "value", "") or getattr(v, "label", "") for v in top][:5]
    return ", ".join(repr(v) for v in values) or "non-numeric strings"


def ranking_label_problems(split: str, stats: statistics_pb2.DatasetFeatureStatistics,
                           label: str) -> List[str]:
    """Why ``label`` of ``split`` is not a 0/1 label present in every example ([] if it is)."""
    feature = _feature(stats, label)
    if feature is None:
        return [f"{split}/{label}: the ranking label column is absent"]
    problems = []
    which = feature.WhichOneof("stats")
    common = (feature.num_stats.common_stats if which == "num_stats"
              else feature.string_stats.common_stats)
    if which == "string_stats" or feature.type in (feature.STRING, feature.BYTES):
        problems.append(f"{split}/{label}: ranking labels must be 0 or 1, got non-numeric values "
                        f"(e.g. {_examples_of(feature)})")
    elif which == "num_stats":
        num = feature.num_stats
        values = common.tot_num_values
        nonzero = values - num.num_zeros
        if num.min < 0 or num.max > 1 or abs(num.mean * values - nonzero) > 1e-6 * max(values, 1):
            problems.append(f"{split}/{label}: ranking labels must be 0 or 1, got values other "
                            f"than 0/1 (min {num.min:g}, max {num.max:g}, mean {num.mean:g})")
        elif values and (nonzero == 0 or num.num_zeros == 0):
            problems.append(f"{split}/{label}: every label of the split is {int(nonzero > 0)} "
                            f"(one class in {values:,} examples): AUC is undefined on it, so its "
                            "rewards, metrics or blessing would mean nothing")
        if common.max_num_values > 1:
            problems.append(f"{split}/{label}: an example has {common.max_num_values} label values; "
                            "a ranking label is one value")
    if common.num_missing:
        problems.append(f"{split}/{label}: {common.num_missing} example(s) have no label "
                        "(empty cell); a ranking label must be 0 or 1 in every example")
    return problems


def check_statistics(uri: str, split_names: List[str], label: str, task: str) -> List[str]:
    """Problems ``"split/feature: description"`` found in the statistics under ``uri``."""
    problems: List[str] = []
    for split in split_names:
        stats = read_statistics(uri, split)
        if stats is None:
            continue
        if stats.num_examples == 0:
            problems.append(f"{split}/<dataset>: the split has no examples (empty or header-only "
                            "input file, or too few rows for the split ratios)")
            continue
        if task == "ranking" and label:
            problems += ranking_label_problems(split, stats, label)
    return problems
