"""Supernet embedding layer: all Embedding Blocks of a feature, masked by sampled choices.

The ``S x T`` blocks ``E[s, t]`` (``vbar_s x dbar_t``) of a feature are stored as
one ``v x d`` table whose row ranges are the row blocks and whose column ranges
are the dim chunks, so block ``E[s, t]`` is
``table[Vbar_{s-1}:Vbar_s, Dbar_{t-1}:Dbar_t]``; the projections ``Pbar_t``
(``dbar_t x d``) are the row ranges of one ``d x d`` matrix. This turns the
paper's sum over selected blocks,

    e_k = sum_{t : s_k <= level_t} E[s_k, t][k - Vbar_{s_k-1}] Pbar_t,

into one gather, one mask and one matmul for the whole batch: choices vary per
example through a ``[B, T]`` level tensor (see feature_space.py), with no Python
branch per example. For a bag of ids (multi-valued features) the masked rows are
summed *before* projecting (MBOW; the projection is linear and shared), and
ids ``< 0`` (padding/OOV) or past the chosen vocabulary give zero vectors.

Example::

    layer = SupernetEmbedding(vocab_size=1000, dim_chunks=[8, 8, 8, 8])
    out = layer(ids, levels)   # ids int [B, L], levels int [B, 4] -> [B, 32]
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np
import tensorflow as tf

from trainer_module.data.features import DatasetConfig
from trainer_module.defaults import DEFAULT_HIDDEN_UNITS
from trainer_module.model.models import RankingModel, RetrievalModel

from trainer_module.model.embedding import bag_mask, combine
from trainer_module.search.space.feature import DEFAULT_VOCAB_FRACTIONS, FeatureSearchSpace
from trainer_module.search.space import SearchSpace


class SupernetEmbedding(tf.keras.layers.Layer):
    """All Embedding Blocks of one feature; output width is the feature's max dim d."""

    def __init__(self, vocab_size: int, vocab_fractions: Sequence[float] = DEFAULT_VOCAB_FRACTIONS,
                 dim_chunks: Optional[Sequence[int]] = None, combiner: str = "sum", **kwargs):
        super().__init__(**kwargs)
        self.space = FeatureSearchSpace(name=self.name, vocab_size=int(vocab_size),
                                        vocab_fractions=tuple(vocab_fractions),
                                        dim_chunks=None if dim_chunks is None else tuple(dim_chunks))
        self.combiner = combiner
        sp = self.space
        # Interior row-block boundaries Vbar_1..Vbar_{S-1}: block of id k = 1 + #(k >= bound).
        self._bounds = tf.constant(sp.cum_vocab[1:-1], tf.int32)
        # Column -> dim chunk index, to widen a [.., T] chunk mask to [.., d].
        self._col_chunk = tf.constant(np.repeat(np.arange(sp.num_col_blocks), sp.dim_chunks), tf.int32)

    @classmethod
    def from_space(cls, space: FeatureSearchSpace, combiner: str = "sum") -> "SupernetEmbedding":
        return cls(space.vocab_size, space.vocab_fractions, space.dim_chunks, combiner, name=space.name)

    def build(self, input_shape=None):
        sp = self.space
        self.table = self.add_weight(
            name="blocks", shape=(sp.vocab_size, sp.dim),
            initializer=tf.keras.initializers.RandomUniform(-0.05, 0.05))
        self.projection = self.add_weight(
            name="projections", shape=(sp.dim, sp.dim), initializer="glorot_uniform")
        super().build(input_shape)

    def call(self, ids: tf.Tensor, levels: tf.Tensor) -> tf.Tensor:
        """Embeds a batch under per-example choices.

        Args:
          ids: int ``[B, L]`` frequency-ordered ids; ``-1`` = padding/OOV.
          levels: int ``[B, T]``; chunk t is used by items of row blocks ``1..levels[:, t]``.

        Returns:
          float ``[B, d]`` embeddings (bags combined with the layer's combiner).
        """
        if not self.built:
            self.build()
        ids = tf.cast(ids, tf.int32)
        levels = tf.cast(levels, tf.int32)
        valid = (ids >= 0) & (ids < self.space.vocab_size)
        rows = tf.nn.embedding_lookup(self.table, tf.where(valid, ids, tf.zeros_like(ids)))      # [B, L, d]
        block = 1 + tf.reduce_sum(tf.cast(ids[..., None] >= self._bounds, tf.int32), -1)  # [B, L]
        block = tf.where(valid, block, self.space.num_row_blocks + 1)   # invalid: past every level
        # Column c is on for an id of row block s when s <= the level of c's chunk: one
        # compare of the [B, L] blocks with the [B, d] column levels (widening the levels,
        # not a [B, L, T] mask, keeps the per-id work to the compare).
        col_level = tf.gather(levels, self._col_chunk, axis=1)                       # [B, d]
        col_on = tf.cast(block[..., None] <= col_level[:, None, :], rows.dtype)      # [B, L, d]
        bag = tf.reduce_sum(rows * col_on, axis=1)                                    # MBOW: sum first
        return tf.matmul(combine(bag, ids, self.combiner), self.projection)

    def get_config(self):
        config = super().get_config()
        config.update(vocab_size=int(self.space.vocab_size),
                      vocab_fractions=list(self.space.vocab_fractions),
                      dim_chunks=list(self.space.dim_chunks), combiner=self.combiner)
        return config


class SupernetInputs(tf.keras.layers.Layer):
    """Concatenated supernet embeddings; ``levels[name]`` is int ``[B, T]`` per feature."""

    def __init__(self, space: SearchSpace, dataset: DatasetConfig, **kwargs):
        super().__init__(**kwargs)
        unknown = sorted(set(space.names) - set(dataset.names))
        if unknown:
            raise ValueError(f"search space names feature(s) {unknown} absent from the dataset "
                             f"config {dataset.names}")
        self.embeddings = {f.name: SupernetEmbedding.from_space(f, dataset.feature(f.name).combiner)
                           for f in space.features}

    def call(self, features: Dict[str, tf.Tensor], levels: Dict[str, tf.Tensor]) -> tf.Tensor:
        return tf.concat([layer(features[n], levels[n]) for n, layer in self.embeddings.items()], -1)


def build_supernet(space: SearchSpace, dataset: DatasetConfig, num_labels: Optional[int] = None,
                   hidden_units: Sequence[int] = DEFAULT_HIDDEN_UNITS) -> tf.keras.Model:
    """The search's main model over all Embedding Blocks (use ``forward(features, levels)``)."""
    inputs = SupernetInputs(space, dataset, name="supernet")
    if dataset.task == "ranking":
        return RankingModel(inputs, hidden_units, name="supernet_ranking")
    if num_labels is None:
        raise ValueError("retrieval search needs num_labels (the label vocabulary size)")
    return RetrievalModel(inputs, num_labels, hidden_units, name="supernet_retrieval")
