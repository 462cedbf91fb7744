"""Tests of the fixed-size ME layer (trainer_module/model/embedding.py)."""
import numpy as np
import pytest
import tensorflow as tf

from trainer_module.model import embedding
from trainer_module.model.embedding import MultiSizeEmbedding


@pytest.fixture(params=["rowwise", "projected"])
def lookup(request, monkeypatch):
    """Runs a test under both lookups: per looked-up row, and in whole projected tables."""
    monkeypatch.setattr(embedding, "PROJECT_WHOLE_TABLES_MAX_ROWS",
                        0 if request.param == "rowwise" else 10 ** 9)
    return request.param


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


def test_item_embedding_follows_the_paper_formula(lookup):
    layer = MultiSizeEmbedding([(3, 4), (5, 2)])
    layer.build(None)
    e1, e2, p2 = [w.numpy() for w in layer.weights]
    out = layer(tf.constant([[1], [3], [7], [8]])).numpy()
    np.testing.assert_allclose(out[0], e1[1], rtol=1e-6)
    np.testing.assert_allclose(out[1], e2[0] @ p2, rtol=1e-5)
    np.testing.assert_allclose(out[2], e2[4] @ p2, rtol=1e-5)
    np.testing.assert_array_equal(out[3], np.zeros(4))


@pytest.mark.parametrize("combiner", ["sum", "mean"])
def test_mbow_equals_sum_of_item_embeddings(combiner, lookup):
    layer = MultiSizeEmbedding([(4, 8), (6, 4), (10, 2)], combiner=combiner)
    bag = tf.constant([[0, 5, 12, 3, -1, 7]])
    out = layer(bag).numpy()[0]
    items = [layer(tf.constant([[k]])).numpy()[0] for k in [0, 5, 12, 3, 7]]
    expected = np.sum(items, axis=0) / (5 if combiner == "mean" else 1)
    np.testing.assert_allclose(out, expected, rtol=1e-5, atol=1e-6)


def test_both_lookups_give_the_same_vectors_and_gradients(monkeypatch):
    layer = MultiSizeEmbedding([(5, 8), (7, 4), (9, 1)], combiner="mean")
    ids = tf.constant([[0, 6, 13, -1], [20, 21, 4, 4], [-1, -1, -1, -1]])
    results = []
    for rows in (0, 10 ** 9):
        monkeypatch.setattr(embedding, "PROJECT_WHOLE_TABLES_MAX_ROWS", rows)
        with tf.GradientTape() as tape:
            out = layer(ids)
            loss = tf.reduce_sum(out * tf.range(8, dtype=tf.float32))
        grads = [tf.convert_to_tensor(g).numpy() for g in tape.gradient(loss, layer.trainable_weights)]
        results.append((out.numpy(), grads))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-5, atol=1e-6)
    for g0, g1 in zip(results[0][1], results[1][1]):
        np.testing.assert_allclose(g0, g1, rtol=1e-5, atol=1e-6)
    assert np.abs(results[0][1][1]).sum() > 0  # the second table was reached


def test_serializable():
    layer = MultiSizeEmbedding([(4, 8), (6, 4)], combiner="mean", name="genres")
    clone = MultiSizeEmbedding.from_config(layer.get_config())
    assert clone.mes == layer.mes and clone.combiner == "mean" and clone.name == "genres"


def test_bad_entries_name_feature():
    with pytest.raises(ValueError, match="'genres'.*non-increasing"):
        MultiSizeEmbedding([(4, 2), (6, 4)], name="genres")
    with pytest.raises(ValueError, match="'genres'.*removes"):
        MultiSizeEmbedding([], name="genres")
