"""Tests of the fixed-size ME layer (trainer_module/embedding.py)."""
import numpy as np
import pytest
import tensorflow as tf

from trainer_module.embedding import MultiSizeEmbedding


def test_one_entry_is_exactly_a_plain_embedding():
    layer = MultiSizeEmbedding([(50, 6)])
    ids = tf.constant([[3], [0], [49], [-1], [50]], tf.int64)
    out = layer(ids).numpy()
    plain = tf.keras.layers.Embedding(50, 6)
    plain.build(None)
    plain.set_weights(layer.get_weights())
    expected = plain(tf.constant([3, 0, 49, 0, 0])).numpy()
    expected[3:] = 0.0  # padding and ids past the vocabulary embed to zero
    np.testing.assert_array_equal(out, expected)
    assert len(layer.trainable_weights) == 1 and layer.table_params() == 50 * 6


def test_item_embedding_follows_the_paper_formula():
    layer = MultiSizeEmbedding([(3, 4), (5, 2)])
    layer.build(None)
    e1, e2, p2 = [w.numpy() for w in layer.weights]
    out = layer(tf.constant([[1], [3], [7], [8]])).numpy()
    np.testing.assert_allclose(out[0], e1[1], rtol=1e-6)
    np.testing.assert_allclose(out[1], e2[0] @ p2, rtol=1e-5)
    np.testing.assert_allclose(out[2], e2[4] @ p2, rtol=1e-5)
    np.testing.assert_array_equal(out[3], np.zeros(4))


@pytest.mark.parametrize("combiner", ["sum", "mean"])
def test_mbow_equals_sum_of_item_embeddings(combiner):
    layer = MultiSizeEmbedding([(4, 8), (6, 4), (10, 2)], combiner=combiner)
    bag = tf.constant([[0, 5, 12, 3, -1, 7]])
    out = layer(bag).numpy()[0]
    items = [layer(tf.constant([[k]])).numpy()[0] for k in [0, 5, 12, 3, 7]]
    expected = np.sum(items, axis=0) / (5 if combiner == "mean" else 1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_serializable():
    layer = MultiSizeEmbedding([(4, 8), (6, 4)], combiner="mean", name="genres")
    clone = MultiSizeEmbedding.from_config(layer.get_config())
    assert clone.mes == layer.mes and clone.combiner == "mean" and clone.name == "genres"


def test_bad_entries_name_feature():
    with pytest.raises(ValueError, match="'genres'.*non-increasing"):
        MultiSizeEmbedding([(4, 2), (6, 4)], name="genres")
    with pytest.raises(ValueError, match="'genres'.*removes"):
        MultiSizeEmbedding([], name="genres")
