"""Controller rewards (paper 3.3.2): objectives, cost loss and sampled output logits.

reward = O - C_L, with ``C_L = max(C / budget - 1, 0)`` plus optional extra cost
terms (e.g. FLOPs) given as callables. O is Sampled Recall@1 per example for
retrieval (the true label's logit beats all N sampled negatives) and ROC-AUC per
group of ``a`` examples for ranking.

Everything here is batched TensorFlow with static shapes (no host round trips),
so it runs under any ``tf.distribute`` strategy, TPUs included.
"""
from __future__ import annotations

import math
from typing import Callable, Dict, Sequence, Tuple

import numpy as np
import tensorflow as tf

from trainer_module.search.space import SearchSpace

# A cost term maps per-sample level tensors {feature: int [N, T]} to a float [N] penalty.
CostTerm = Callable[[Dict[str, tf.Tensor]], tf.Tensor]


def sampled_recall_at_1(true_logit: tf.Tensor, neg_logits: tf.Tensor) -> tf.Tensor:
    """1.0 where the true label's logit beats every sampled negative, per example."""
    return tf.cast(true_logit > tf.reduce_max(neg_logits, axis=-1), tf.float32)


def group_means(values: tf.Tensor, valid: tf.Tensor, group: int, n) -> Tuple[tf.Tensor, tf.Tensor]:
    """Means ``[n]`` of ``values`` ``[B]`` over consecutive groups of ``group`` examples,
    counting only ``valid`` ones; a group without a valid example is invalid."""
    segment = tf.range(tf.shape(values)[0]) // group
    w = tf.cast(valid, values.dtype)
    total = tf.math.unsorted_segment_sum(values * w, segment, n)
    count = tf.math.unsorted_segment_sum(w, segment, n)
    return total / tf.maximum(count, 1.0), count > 0


def grouped_auc(labels: tf.Tensor, scores: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """ROC-AUC of each row of ``[G, a]`` labels/scores; ties count one half.

    Returns:
      auc ``[G]`` and valid ``[G]`` (a group with only one class has no AUC; its auc is 0.5).
    """
    labels = tf.cast(labels, tf.float32)
    pos, neg = labels, 1.0 - labels
    diff = scores[:, :, None] - scores[:, None, :]                     # [G, a(pos), a(neg)]
    wins = tf.cast(diff > 0, tf.float32) + 0.5 * tf.cast(diff == 0, tf.float32)
    pair = pos[:, :, None] * neg[:, None, :]
    npairs = tf.reduce_sum(pair, axis=[1, 2])
    valid = npairs > 0
    auc = tf.where(valid, tf.reduce_sum(wins * pair, axis=[1, 2]) / tf.maximum(npairs, 1.0), 0.5)
    return auc, valid


def projection_floats(levels: tf.Tensor, chunks: tf.Tensor, blocks: tf.Tensor) -> tf.Tensor:
    """ME projection floats of level vectors ``[N, T]``: with row widths
    ``w(s) = sum_t dbar_t [s_t >= s]``, ``w(1) * sum_{s>=2} w(s) [w(s) != w(s-1)]``.

    Args:
      levels: int ``[N, T]`` level vectors.
      chunks: ``[T]`` dim chunks ``dbar_t`` (float).
      blocks: int ``[S]`` row-block numbers ``1..S``.
    """
    active = tf.cast(levels[:, None, :] >= blocks[None, :, None], chunks.dtype)  # [N, S, T]
    widths = tf.reduce_sum(active * chunks, axis=-1)                              # [N, S]
    new = tf.cast(tf.not_equal(widths[:, 1:], widths[:, :-1]), widths.dtype)
    return widths[:, 0] * tf.reduce_sum(widths[:, 1:] * new, axis=-1)


class CostModel:
    """Memory cost of sampled choices and the cost loss ``max(C / budget - 1, 0) + extras``.

    C is counted under the space's accounting: the tables, plus (``"exact"``) the ME
    projections of each sample's level vectors (``feature_space`` module docstring).
    """

    def __init__(self, space: SearchSpace, extra_terms: Sequence[CostTerm] = ()):
        self.space = space
        self.extra_terms = tuple(extra_terms)
        self._exact = space.accounting == "exact" and space.mode == "ME"  # SE: no projections
        self._cum_vocab = {f.name: tf.constant(f.cum_vocab, tf.float64) for f in space.features}
        self._chunks = {f.name: tf.constant(f.dim_chunks, tf.float64) for f in space.features}
        self._blocks = {f.name: tf.range(1, f.num_row_blocks + 1) for f in space.features}

    def cost(self, levels: Dict[str, tf.Tensor]) -> tf.Tensor:
        """Floats used by each sample's choice, ``sum_F sum_t dbar_t * Vbar[s_t]`` plus the
        projections under exact accounting: ``[N]`` float64."""
        total = None
        for f in self.space.features:
            lv = tf.cast(levels[f.name], tf.int32)                                    # [N, T]
            rows = tf.gather(self._cum_vocab[f.name], lv)
            c = tf.reduce_sum(rows * self._chunks[f.name], axis=-1)
            if self._exact:
                c = c + projection_floats(lv, self._chunks[f.name], self._blocks[f.name])
            total = c if total is None else total + c
        return total

    def cost_ratio(self, levels: Dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.cast(self.cost(levels) / float(self.space.budget), tf.float32)

    def cost_loss(self, levels: Dict[str, tf.Tensor]) -> tf.Tensor:
        loss = tf.maximum(self.cost_ratio(levels) - 1.0, 0.0)
        for term in self.extra_terms:
            loss = loss + tf.cast(term(levels), tf.float32)
        return loss
