"""Warm start of a re-run's search from the previous run's MES and controller state.

A scheduled pipeline searches again on new data whose vocabularies may have grown
or shrunk. A warm search

* restores the previous controller (its policy, value network and optimizer) when
  the new search space has the same controller decisions (``restore_controller``),
  so it continues from the policy that produced the previous MES instead of a
  uniform one; otherwise the controller starts fresh;
* projects the previous MES onto the new space (``project``: per feature, every row
  block of the new vocabulary gets the previous width at that frequency rank,
  rounded down to the new dim chunks) and offers it, repaired into the budget, as a
  candidate of the final selection, so a re-run with fewer search steps still
  measures the configuration that served.

The emitted MES stays within the new budget whatever the vocabularies did: the
projection is only a candidate, and every candidate is checked against the budget.

Example::

    save_controller(search.controller, space, mes_uri + "/controller")   # run N
    warm = WarmStart(previous_spec, mes_uri + "/controller")             # run N+1
    run_search(space, ..., warm_start=warm)
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import List, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from trainer_module.search.space.feature import FeatureSearchSpace
from trainer_module.search.space import SearchSpace
from trainer_module.spec.mes import FeatureMES, ModelSpec

_SIZES_FILE = "decision_sizes.json"
_CHECKPOINT = "controller"


@dataclasses.dataclass(frozen=True)
class WarmStart:
    """The previous run's MES and the directory of its controller checkpoint (or None)."""

    spec: ModelSpec
    controller_dir: Optional[str] = None


def _block_widths(feature: FeatureSearchSpace, fmes: Optional[FeatureMES]) -> List[int]:
    """Previous width at the first row (frequency rank) of each of the new row blocks."""
    return [fmes.width_at(start) if fmes is not None else 0 for start in feature.cum_vocab[:-1]]


def _feature_actions(feature: FeatureSearchSpace, fmes: Optional[FeatureMES], mode: str) -> List[int]:
    widths = _block_widths(feature, fmes)
    cum = np.cumsum(feature.dim_chunks)
    # Chunk t is active in a row block when the previous width covers chunks 0..t.
    levels = [sum(1 for w in widths if c <= w) for c in cum]
    if mode == "ME":
        return levels
    s, t = max(levels, default=0), sum(1 for level in levels if level > 0)
    return [feature.se_category(s, t) if s and t else 0]


def project(space: SearchSpace, spec: ModelSpec) -> np.ndarray:
    """Actions (space order) closest below ``spec`` on ``space``'s grid; may exceed the budget.

    Features the previous MES lacks start removed; features it had that the space lacks
    are dropped.
    """
    actions: List[int] = []
    for feature in space.features:
        actions += _feature_actions(feature, spec.features.get(feature.name), space.mode)
    return np.asarray(actions, np.int64)


def save_controller(controller: tf.Module, space: SearchSpace, directory: str) -> str:
    """Writes the controller's variables and the space's decision sizes; returns the prefix."""
    tf.io.gfile.makedirs(directory)
    with tf.io.gfile.GFile(os.path.join(directory, _SIZES_FILE), "w") as f:
        f.write(json.dumps(space.decision_sizes()))
    return tf.train.Checkpoint(controller=controller).write(os.path.join(directory, _CHECKPOINT))


def saved_decision_sizes(directory: Optional[str]) -> Optional[List[int]]:
    """The decision sizes a saved controller was built for, None without a saved controller."""
    path = os.path.join(directory or "", _SIZES_FILE)
    if not directory or not tf.io.gfile.exists(path):
        return None
    with tf.io.gfile.GFile(path) as f:
        return [int(n) for n in json.loads(f.read())]


def restore_controller(controller: tf.Module, space: SearchSpace, directory: Optional[str]) -> bool:
    """Restores a saved controller when its decisions match ``space``'s; whether it did."""
    sizes = saved_decision_sizes(directory)
    if sizes != space.decision_sizes():
        logging.info("NIS warm start: previous controller %s (decisions %s, now %s); the "
                     "controller starts fresh", "absent" if sizes is None else "does not fit",
                     sizes, space.decision_sizes())
        return False
    tf.train.Checkpoint(controller=controller).read(
        os.path.join(directory, _CHECKPOINT)).assert_existing_objects_matched()
    logging.info("NIS warm start: controller restored from %s", directory)
    return True
