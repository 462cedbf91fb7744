"""The progress lines of a search and of the trainer's epochs."""

import numpy as np
import pytest
import tensorflow as tf

from trainer_module.model import progress
from trainer_module.model import training


def test_progress_line_has_rate_and_eta():
    line = progress.progress_line("NeuralInputSearch", "step", 300, 1200, elapsed=10.0,
                                  done_here=100, examples=25_600, extra="search")
    # 100 steps in 10 s -> 900 steps left take 90 s.
    assert line == ("Progress: NeuralInputSearch step 300/1200 (25%), search, "
                    "2,560 examples/s, ETA 1m30s")
    assert progress.progress_line("T", "epoch", 0, 3, 0.0, 0) == "Progress: T epoch 0/3 (0%)"


class _Preempt(tf.keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        if epoch == 2:
            raise KeyboardInterrupt("preempted")


def test_epoch_progress_lines_of_the_training_recipe(tmp_path, monkeypatch):
    """``training.fit`` (run_fn's recipe) with EpochProgress: one line per epoch of at most
    max_epochs, every step counted under steps_per_execution, a resumed fit timed from the
    epoch it resumed at."""
    logged = []
    monkeypatch.setattr(progress.logging, "info",  # absl's: the recipe's own lines come too
                        lambda fmt, *a: logged.append(fmt % a) if str(fmt % a).startswith(
                            progress.PROGRESS_PREFIX) else None)
    x = np.random.default_rng(0).normal(size=(64, 3)).astype("float32")
    data = tf.data.Dataset.from_tensor_slices((x, (x[:, 0] > 0).astype("float32"))).batch(16)
    recipe = training.TrainRecipe(max_epochs=3, patience=3)

    def fit(*extra):
        model = tf.keras.Sequential([tf.keras.layers.Dense(1, activation="sigmoid")])
        model.compile("sgd", "binary_crossentropy", metrics=[tf.keras.metrics.AUC(name="auc")],
                      steps_per_execution=4)  # one call runs the epoch's 4 steps
        epochs = progress.EpochProgress("Trainer", recipe.max_epochs, batch_size=16)
        training.fit(model, data, data, "ranking", recipe, callbacks=[epochs, *extra],
                     checkpoint_dir=str(tmp_path))
        return epochs

    with pytest.raises(KeyboardInterrupt):
        fit(_Preempt())
    assert [line.split(",")[0] for line in logged] == [
        f"Progress: Trainer epoch {e}/3 ({100 * e / 3:.0f}%)" for e in (1, 2, 3)]
    assert "loss " in logged[0] and "val_auc " in logged[0] and "examples/s, ETA" in logged[0]
    del logged[:]
    resumed = fit()  # from the checkpoint of epoch 2: only the third epoch runs
    assert [line.split(",")[0] for line in logged] == ["Progress: Trainer epoch 3/3 (100%)"]
    assert resumed.progress.start == 2 and resumed.progress.examples == 64
