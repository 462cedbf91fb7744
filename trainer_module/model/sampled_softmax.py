"""Sampled softmax over a label vocabulary: log-uniform negatives and their logits.

The retrieval model trains with it (``RetrievalModel.sampled_softmax_loss``) and the
search's retrieval reward (Sampled Recall@1) scores with the same negatives.
"""
from __future__ import annotations

import math
from typing import Tuple

import numpy as np
import tensorflow as tf


def sample_negatives(num: int, num_labels: int, seed: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """Log-uniform (Zipfian) label ids, suited to frequency-ordered vocabularies.

    Returns:
      ids int64 ``[num]`` in ``[0, num_labels)`` and ``log(num * Q(id))``, the
      log expected count used to correct sampled-softmax logits.
    """
    log_range = math.log(num_labels + 1.0)
    u = tf.random.stateless_uniform([num], seed=seed, dtype=tf.float32)
    ids = tf.cast(tf.floor(tf.exp(u * log_range)) - 1.0, tf.int64)
    ids = tf.clip_by_value(ids, 0, num_labels - 1)
    idf = tf.cast(ids, tf.float32)
    q = (tf.math.log(idf + 2.0) - tf.math.log(idf + 1.0)) / log_range
    return ids, tf.math.log(float(num) * q)


def sampled_logits(hidden: tf.Tensor, labels: tf.Tensor, weights: tf.Tensor, bias: tf.Tensor,
                   negatives: tf.Tensor) -> Tuple[tf.Tensor, tf.Tensor]:
    """Logits of the true label ``[B]`` and of shared negatives ``[B, N]``.

    Negatives equal to an example's label (accidental hits) get ``-inf``.
    """
    labels = tf.cast(labels, tf.int64)
    safe = tf.maximum(labels, 0)
    lookup = tf.nn.embedding_lookup  # a gather that reads only the shards it needs (ps)
    true = tf.reduce_sum(hidden * lookup(weights, safe), -1) + lookup(bias, safe)
    neg = tf.matmul(hidden, lookup(weights, negatives), transpose_b=True) + lookup(bias, negatives)
    hit = tf.equal(labels[:, None], negatives[None, :])
    return true, tf.where(hit, tf.fill(tf.shape(neg), -np.inf), neg)
