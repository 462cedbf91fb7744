"""Tests of the supernet layer against the paper's block formula."""
import numpy as np
import tensorflow as tf

from trainer_module.search.space.feature import FeatureSearchSpace
from trainer_module.search.supernet import SupernetEmbedding

SPACE = FeatureSearchSpace("f", vocab_size=20, dim_chunks=(3, 2, 2))  # rows 2,4,4,4,6


def reference(table, proj, space, k, levels):
    """e_k = sum over selected blocks E[s_k, t][row] Pbar_t, written block by block."""
    if k < 0 or k >= space.vocab_size:
        return np.zeros(space.dim)
    cv, dims = space.cum_vocab, space.dim_chunks
    s_k = next(s for s in range(1, len(cv)) if k < cv[s])
    out = np.zeros(space.dim)
    col = 0
    for t, d in enumerate(dims):
        if s_k <= levels[t]:
            block = table[cv[s_k - 1]:cv[s_k], col:col + d]          # E[s_k, t]
            out += block[k - cv[s_k - 1]] @ proj[col:col + d]        # Pbar_t
        col += d
    return out


def test_per_example_choices_match_block_formula():
    layer = SupernetEmbedding.from_space(SPACE)
    rng = np.random.default_rng(0)
    ids = rng.integers(-1, 22, size=(64, 1))
    levels = rng.integers(0, SPACE.num_row_blocks + 1, size=(64, SPACE.num_col_blocks))
    out = layer(tf.constant(ids), tf.constant(levels)).numpy()
    table, proj = layer.table.numpy(), layer.projection.numpy()
    for b in range(64):
        np.testing.assert_allclose(out[b], reference(table, proj, SPACE, ids[b, 0], levels[b]),
                                   rtol=1e-5, atol=1e-6)


def test_se_choice_and_removed_feature():
    layer = SupernetEmbedding.from_space(SPACE)
    ids = tf.constant([[1], [5], [7], [19]])
    se = SPACE.se_levels(SPACE.se_category(s=2, t=2))  # first Vbar_2 = 6 items, first 3 + 2 dims
    out = layer(ids, tf.constant([se] * 4)).numpy()
    table, proj = layer.table.numpy(), layer.projection.numpy()
    for row, k in enumerate([1, 5]):  # paper 3.3.1: e_k = E[k, :Dbar_t] P[:Dbar_t]
        np.testing.assert_allclose(out[row], table[k, :5] @ proj[:5], rtol=1e-5, atol=1e-6)
    assert np.all(out[2:] == 0)                             # items 7, 19 are past Vbar_2 = 6
    zero = layer(ids, tf.zeros([4, 3], tf.int32)).numpy()
    assert np.all(zero == 0)


def test_mbow_sums_before_projecting():
    layer = SupernetEmbedding.from_space(SPACE, combiner="sum")
    bag = tf.constant([[0, 5, 9, -1]])
    lv = tf.constant([[5, 2, 1]])
    together = layer(bag, lv).numpy()[0]
    apart = sum(layer(tf.constant([[k]]), lv).numpy()[0] for k in [0, 5, 9])
    np.testing.assert_allclose(together, apart, rtol=1e-5, atol=1e-6)
    # Both orders give the same vector (the projection is linear); MBOW (paper 3.2) projects
    # the bag's sum once, so the one product with the projection reads a [B, d] bag, not the
    # [B, L, d] rows.
    graph = tf.function(layer).get_concrete_function(
        tf.TensorSpec([None, 4], tf.int32), tf.TensorSpec([None, 3], tf.int32)).graph
    products = [op for op in graph.get_operations()
                if op.type in ("MatMul", "BatchMatMulV2", "Einsum", "Tensordot")]
    assert len(products) == 1 and products[0].inputs[0].shape.rank == 2, products


def test_config_round_trip():
    layer = SupernetEmbedding.from_space(SPACE, combiner="mean")
    clone = SupernetEmbedding.from_config(layer.get_config())
    assert clone.space.block_vocab == SPACE.block_vocab and clone.combiner == "mean"
