"""Tests of the lazy (row-sparse) Adam and of the optimizer switch."""
import numpy as np
import pytest
import tensorflow as tf

import planted_data as pdata
from trainer_module.model import optimizers
from trainer_module.model.models import build_model
from trainer_module.spec.mes import ModelSpec
from trainer_module.search.config import SearchConfig

ROWS, DIM = 50, 4
TOUCHED = [3, 7, 7, 20]  # 7 twice: duplicates are summed before the update


def _sparse_step(optimizer, start, steps=1):
    """``steps`` updates of a gathered table from ``start``; returns the variable."""
    table = tf.Variable(start)
    for _ in range(steps):
        with tf.GradientTape() as tape:
            rows = tf.gather(table, TOUCHED)
            loss = tf.reduce_sum(rows * tf.constant(np.arange(len(TOUCHED) * DIM, dtype=np.float32)
                                                    .reshape(len(TOUCHED), DIM)))
        grad = tape.gradient(loss, table)
        assert isinstance(grad, tf.IndexedSlices)
        optimizer.apply_gradients([(grad, table)])
    return table


def _slots(optimizer, table):
    key = optimizer._var_key(table)
    index = optimizer._index_dict[key]
    return optimizer._momentums[index].numpy(), optimizer._velocities[index].numpy()


def test_lazy_adam_leaves_untouched_rows_and_slots_unchanged():
    start = np.random.default_rng(0).normal(size=(ROWS, DIM)).astype(np.float32)
    lazy = optimizers.LazyAdam(1e-2)
    table = _sparse_step(lazy, start, steps=1)
    m0, v0 = (s.copy() for s in _slots(lazy, table))
    # Give the slots non-zero values everywhere, then take two more steps: untouched rows
    # of the weights and both slots must stay exactly where they were.
    m_var = lazy._momentums[lazy._index_dict[lazy._var_key(table)]]
    v_var = lazy._velocities[lazy._index_dict[lazy._var_key(table)]]
    m_var.assign(m0 + 0.5)
    v_var.assign(v0 + 0.25)
    before = table.numpy().copy()
    for _ in range(2):
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.gather(table, TOUCHED))
        lazy.apply_gradients([(tape.gradient(loss, table), table)])
    untouched = np.setdiff1d(np.arange(ROWS), TOUCHED)
    m, v = _slots(lazy, table)
    np.testing.assert_array_equal(table.numpy()[untouched], before[untouched])
    np.testing.assert_array_equal(m[untouched], m0[untouched] + 0.5)
    np.testing.assert_array_equal(v[untouched], v0[untouched] + 0.25)
    assert not np.allclose(table.numpy()[TOUCHED], before[TOUCHED])


def test_lazy_adam_matches_adam_on_touched_rows_for_one_step():
    start = np.random.default_rng(1).normal(size=(ROWS, DIM)).astype(np.float32)
    lazy, adam = optimizers.LazyAdam(1e-2), tf.keras.optimizers.Adam(1e-2)
    t_lazy, t_adam = _sparse_step(lazy, start), _sparse_step(adam, start)
    np.testing.assert_allclose(t_lazy.numpy()[TOUCHED], t_adam.numpy()[TOUCHED], rtol=1e-6)
    for lazy_slot, adam_slot in zip(_slots(lazy, t_lazy), _slots(adam, t_adam)):
        np.testing.assert_allclose(lazy_slot[TOUCHED], adam_slot[TOUCHED], rtol=1e-6)
    assert not np.allclose(t_lazy.numpy()[TOUCHED], start[TOUCHED])


def test_lazy_adam_is_adam_on_dense_gradients():
    start = np.random.default_rng(2).normal(size=(ROWS, DIM)).astype(np.float32)
    results = []
    for opt in (optimizers.LazyAdam(1e-2), tf.keras.optimizers.Adam(1e-2)):
        var = tf.Variable(start)
        for _ in range(3):
            with tf.GradientTape() as tape:
                loss = tf.reduce_sum(tf.square(var - 1.0))
            opt.apply_gradients([(tape.gradient(loss, var), var)])
        results.append(var.numpy())
    np.testing.assert_array_equal(results[0], results[1])


def test_make_and_config_reject_unknown_optimizer_names():
    assert isinstance(optimizers.make("lazy_adam", 1e-3), optimizers.LazyAdam)
    assert not isinstance(optimizers.make("adam", 1e-3), optimizers.LazyAdam)
    with pytest.raises(ValueError, match="unknown optimizer 'sgd'"):
        optimizers.make("sgd", 1e-3)
    with pytest.raises(ValueError, match="optimizer must be one of"):
        SearchConfig(optimizer="sgd")
    assert SearchConfig.from_json(SearchConfig(optimizer="adam").to_json()).optimizer == "adam"


def test_model_trained_with_lazy_adam_saves_and_loads(tmp_path):
    spec = ModelSpec(budget=20_000, mode="SE", features={
        "signal": [(2000, 4)], "context": [(50, 4)], "noise": []})
    model = build_model(pdata.DATASET, spec, hidden_units=(8,), optimizer="lazy_adam")
    assert isinstance(model.optimizer, optimizers.LazyAdam)
    model.fit(pdata.dataset(pdata.ranking_arrays(512, 0), 128), steps_per_epoch=2, verbose=0)
    model.save(str(tmp_path / "model"), save_format="tf")
    loaded = tf.keras.models.load_model(str(tmp_path / "model"))
    assert isinstance(loaded.optimizer, optimizers.LazyAdam)


def test_auto_is_lazy_adam_only_for_tables_larger_than_the_threshold():
    big = optimizers.LAZY_ADAM_ROWS + 1
    assert isinstance(optimizers.make("auto", 1e-3, table_rows=big), optimizers.LazyAdam)
    assert not isinstance(optimizers.make("auto", 1e-3, table_rows=big - 1), optimizers.LazyAdam)
    assert optimizers.DEFAULT_OPTIMIZER == SearchConfig().optimizer == "auto"
    # the final model and the supernet count their largest table (or the softmax's labels)
    def model(signal_entries):
        spec = ModelSpec(budget=10**9, mode="ME", features={
            "signal": signal_entries, "context": [(50, 4)], "noise": []})
        return build_model(pdata.DATASET, spec, hidden_units=(8,))
    assert not isinstance(model([(2000, 4)]).optimizer, optimizers.LazyAdam)
    assert isinstance(model([(big - 100, 4), (100, 1)]).optimizer, optimizers.LazyAdam)
