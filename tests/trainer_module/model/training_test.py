"""The training recipe: best epoch kept, patience, step cap, checkpoint and resume."""
import numpy as np
import pytest
import tensorflow as tf

from trainer_module.model import training


class _Scripted(tf.keras.callbacks.Callback):
    """Replaces the monitored validation value by a script and records each epoch's weights."""

    def __init__(self, values, fail_at_epoch=None):
        super().__init__()
        self.values, self.fail_at_epoch, self.weights = values, fail_at_epoch, {}

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.fail_at_epoch:
            raise KeyboardInterrupt("preempted")
        logs["val_auc"] = self.values[epoch]
        self.weights[epoch + 1] = [w.copy() for w in self.model.get_weights()]


def _model(seed=0, steps_per_execution=1):
    tf.keras.utils.set_random_seed(seed)
    model = tf.keras.Sequential([tf.keras.layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=tf.keras.optimizers.Adam(0.05), loss="binary_crossentropy",
                  metrics=[tf.keras.metrics.AUC(name="auc")],
                  steps_per_execution=steps_per_execution)
    return model


def _data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = (x[:, 0] > 0).astype("float32")
    return tf.data.Dataset.from_tensor_slices((x, y)).batch(16)  # 4 steps per pass


def _fit(values, **kw):
    model = _model(steps_per_execution=kw.pop("steps_per_execution", 1))
    scripted = _Scripted(values, kw.pop("fail_at_epoch", None))
    result = training.fit(model, _data(), _data(), "ranking", callbacks=[scripted], **kw)
    return model, scripted, result


def _same(a, b):
    return all(np.array_equal(x, y) for x, y in zip(a, b))


def test_keeps_the_best_epoch_and_stops_after_patience():
    values = [0.60, 0.70, 0.65, 0.66, 0.90, 0.99]
    model, scripted, result = _fit(values, recipe=training.TrainRecipe(max_epochs=6, patience=2))
    assert result.curve == pytest.approx([0.60, 0.70, 0.65, 0.66])  # stopped 2 epochs after 0.70
    assert result.best_epoch == 2 and result.steps == 16
    assert _same(model.get_weights(), scripted.weights[2])
    assert not _same(model.get_weights(), scripted.weights[4])


def test_a_late_best_epoch_is_kept_when_the_cap_ends_training():
    model, scripted, result = _fit([0.5, 0.6, 0.7], recipe=training.TrainRecipe(max_epochs=3))
    assert result.best_epoch == 3 and result.epochs == 3
    assert _same(model.get_weights(), scripted.weights[3])


def test_max_steps_ends_inside_an_epoch_which_is_still_validated():
    _, _, result = _fit([0.5, 0.6, 0.7], recipe=training.TrainRecipe(max_epochs=3, max_steps=6))
    assert result.steps == 6 and result.epochs == 2


@pytest.mark.parametrize("steps_per_execution", [3, 64])
@pytest.mark.parametrize("max_steps", [1, 2, 5, 6, 7, 9])
def test_max_steps_is_exact_with_several_steps_per_call(max_steps, steps_per_execution):
    # 4 steps per epoch: calls of 3 (then 1 at the epoch's end) or of the whole epoch.
    model, _, result = _fit([0.5, 0.6, 0.7], steps_per_execution=steps_per_execution,
                            recipe=training.TrainRecipe(max_epochs=3, max_steps=max_steps))
    assert int(model.optimizer.iterations) == result.steps == max_steps
    assert result.epochs == (max_steps - 1) // 4 + 1
    assert int(model.steps_per_execution.numpy()) == steps_per_execution  # restored


def test_resume_after_preemption_continues_where_the_killed_run_stopped(tmp_path):
    values = [0.60, 0.70, 0.65, 0.80, 0.70, 0.70, 0.70]
    recipe = training.TrainRecipe(max_epochs=7, patience=2)
    _, _, whole = _fit(values, recipe=recipe)
    with pytest.raises(KeyboardInterrupt):
        _fit(values, recipe=recipe, checkpoint_dir=str(tmp_path), fail_at_epoch=2)
    model, scripted, resumed = _fit(values, recipe=recipe, checkpoint_dir=str(tmp_path))
    assert resumed.resumed_from_epoch == 2
    assert resumed.curve == pytest.approx(whole.curve)
    assert resumed.best_epoch == whole.best_epoch == 4 and resumed.steps == whole.steps
    assert int(model.optimizer.iterations) == whole.steps  # the optimizer state came back too
    assert _same(model.get_weights(), scripted.weights[4])
    # A finished checkpoint trains nothing more and restores the best epoch.
    model2, _, again = _fit(values, recipe=recipe, checkpoint_dir=str(tmp_path))
    assert again.steps == whole.steps and again.best_epoch == 4
    assert _same(model2.get_weights(), scripted.weights[4])


def test_missing_validation_metric_is_named():
    model = _model()
    with pytest.raises(ValueError, match="val_recall_at_1"):
        training.fit(model, _data(), _data(), "retrieval", training.TrainRecipe(max_epochs=1))
