"""The benchmark's in-memory input pipeline (``benchmarks.data.tf_dataset``)."""
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from benchmarks.data import _sparse_column, tf_dataset  # noqa: E402


def _arrays(n):
    return {"a": np.arange(n, dtype=np.int64) * 10, "b": np.arange(2 * n, dtype=np.int64).reshape(n, 2)}, \
        np.arange(n, dtype=np.int64)


def test_each_epoch_is_a_fresh_permutation_of_full_batches():
    ds = tf_dataset(_arrays(10), 3, seed=4)
    assert ds.element_spec[1].shape.as_list() == [3]
    batches = [(x["a"].numpy(), x["b"].numpy(), y.numpy()) for x, y in ds.take(9)]
    for a, b, y in batches:  # rows stay aligned across columns
        np.testing.assert_array_equal(a, y * 10)
        np.testing.assert_array_equal(b[:, 0], y * 2)
    epochs = [np.concatenate([y for _, _, y in batches[i:i + 3]]) for i in (0, 3, 6)]
    for e in epochs:  # 3 full batches of 3 per epoch, no row twice
        assert len(set(e.tolist())) == 9
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch
    again = [y.numpy() for _, y in tf_dataset(_arrays(10), 3, seed=4).take(3)]
    np.testing.assert_array_equal(np.concatenate(again), epochs[0])  # seeded
    other = [y.numpy() for _, y in tf_dataset(_arrays(10), 3, seed=5).take(3)]
    assert not np.array_equal(np.concatenate(other), epochs[0])


def test_autotuning_is_off_so_deleting_a_long_lived_iterator_does_not_stall():
    for repeat in (True, False):
        assert tf_dataset(_arrays(10), 3, seed=0, repeat=repeat).options().autotune.enabled is False


def test_single_pass_is_ordered_and_keeps_the_last_partial_batch():
    ys = [y.numpy().tolist() for _, y in tf_dataset(_arrays(7), 3, seed=0, repeat=False)]
    assert ys == [[0, 1, 2], [3, 4, 5], [6]]


def test_a_batch_larger_than_the_split_cycles_through_whole_permutations():
    ys = [y.numpy().tolist() for _, y in tf_dataset(_arrays(5), 8, seed=0).take(4)]
    for y in ys:  # each epoch: two permutations of the 5 rows, cut to one batch of 8
        assert sorted(y[:5]) == list(range(5)) and len(set(y[5:])) == 3
    assert len({tuple(y) for y in ys}) > 1


def test_sparse_column_drops_empty_cells_like_a_tfxio_source():
    col = _sparse_column(np.array(["a", "", "b|c"], dtype=object))
    np.testing.assert_array_equal(col.indices.numpy(), [[0, 0], [2, 0]])
    assert col.values.numpy().tolist() == [b"a", b"b|c"]
    assert col.dense_shape.numpy().tolist() == [3, 1]
    labels = _sparse_column(np.array([0, 1, 0], dtype=np.int64))  # numbers: every row kept
    np.testing.assert_array_equal(labels.indices.numpy()[:, 0], [0, 1, 2])
