"""Fixed-size Multi-size Embedding (ME) layer used to retrain the final model from an MES.

For an MES ``[(v1, d1), ..., (vM, dM)]`` the layer owns one table ``E_m``
(``v_m x d_m``) per entry and a projection ``P_m`` (``d_m x d1``) for ``m >= 2``;
``P_1`` would be a ``d1 x d1`` map into its own space, so it is the identity and
is not created. Item ``k`` gets ``E_{m_k}[k - V_{m_k - 1}] P_{m_k}`` (paper 3.2);
ids past ``V_M`` and ids ``< 0`` get a zero vector. Bags (multi-valued features)
sum the rows of each table before projecting (MBOW). With one entry the layer is
exactly a plain ``v1 x d1`` embedding; tables and projections together hold
``FeatureMES.cost()`` floats (exact accounting).

Example::

    layer = MultiSizeEmbedding([(100, 16), (900, 4)], combiner="mean")
    vectors = layer(ids)   # ids int [B, L] -> [B, 16]
"""
from __future__ import annotations

from typing import Sequence, Tuple

import tensorflow as tf

from trainer_module.spec.mes import FeatureMES

# Features whose MES covers at most this many items are looked up in their projected
# tables (one gather; see ``_projected_lookup``); larger ones project per looked-up row.
PROJECT_WHOLE_TABLES_MAX_ROWS = 8192


def bag_mask(ids: tf.Tensor) -> tf.Tensor:
    """1.0 where an id is a real value (not padding/OOV ``-1``)."""
    return tf.cast(ids >= 0, tf.float32)


def combine(bag_sum: tf.Tensor, ids: tf.Tensor, combiner: str) -> tf.Tensor:
    """Applies the bag-of-words combiner to a summed bag ``[B, d]``."""
    if combiner == "mean":
        count = tf.reduce_sum(bag_mask(ids), axis=1, keepdims=True)
        return bag_sum / tf.maximum(count, 1.0)
    return bag_sum


class MultiSizeEmbedding(tf.keras.layers.Layer):
    """One feature's fixed-size ME: tables ``E_m`` and projections ``P_m``."""

    def __init__(self, entries: Sequence[Tuple[int, int]], combiner: str = "sum", **kwargs):
        super().__init__(**kwargs)
        self.mes = FeatureMES(entries)
        self.mes.validate(self.name)
        if self.mes.removed:
            raise ValueError(f"feature {self.name!r}: an empty MES removes the feature; "
                             "do not build an embedding layer for it")
        self.combiner = combiner

    @property
    def output_dim(self) -> int:
        return self.mes.output_dim

    def build(self, input_shape=None):
        d1 = self.output_dim
        self.tables, self.projections = [], []
        for m, (v, d) in enumerate(self.mes.entries):
            self.tables.append(self.add_weight(
                name=f"E_{m + 1}", shape=(v, d),
                initializer=tf.keras.initializers.RandomUniform(-0.05, 0.05)))
            self.projections.append(None if m == 0 else self.add_weight(
                name=f"P_{m + 1}", shape=(d, d1), initializer="glorot_uniform"))
        super().build(input_shape)

    def call(self, ids: tf.Tensor) -> tf.Tensor:
        """Embeds int ids ``[B, L]`` (``-1`` = padding/OOV) to ``[B, d1]``."""
        if not self.built:
            self.build()
        ids = tf.cast(ids, tf.int32)
        if len(self.mes.entries) > 1 and self.mes.vocab_size <= PROJECT_WHOLE_TABLES_MAX_ROWS:
            return combine(self._projected_lookup(ids), ids, self.combiner)
        out, start = None, 0
        for (v, _), table, proj in zip(self.mes.entries, self.tables, self.projections):
            local = ids - start
            valid = (ids >= 0) & (local >= 0) & (local < v)
            rows = tf.nn.embedding_lookup(table, tf.where(valid, local, tf.zeros_like(local)))
            bag = tf.reduce_sum(rows * tf.cast(valid, rows.dtype)[..., None], axis=1)
            part = bag if proj is None else tf.matmul(bag, proj)
            out = part if out is None else out + part
            start += v
        return combine(out, ids, self.combiner)

    def _projected_lookup(self, ids: tf.Tensor) -> tf.Tensor:
        """Summed bag ``[B, d1]`` from one gather in ``[E_1; E_2 P_2; ...; 0]`` (same values).

        Projecting whole tables costs ``sum v_m d_m d1`` per step, less than one gather,
        mask and projection per entry when the vocabulary is small; the last row is the
        zero vector of padding and out-of-vocabulary ids.
        """
        parts = [t if p is None else tf.matmul(t, p) for t, p in zip(self.tables, self.projections)]
        parts.append(tf.zeros([1, self.output_dim], parts[0].dtype))
        vocab = self.mes.vocab_size
        rows = tf.where((ids >= 0) & (ids < vocab), ids, vocab)
        return tf.reduce_sum(tf.gather(tf.concat(parts, axis=0), rows), axis=1)

    def table_params(self) -> int:
        """Floats in the tables ``E_m`` (the MES's ``table_floats``)."""
        return sum(int(v) * int(d) for v, d in self.mes.entries)

    def get_config(self):
        config = super().get_config()
        config.update(entries=[list(e) for e in self.mes.entries], combiner=self.combiner)
        return config
