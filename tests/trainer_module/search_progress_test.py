"""History rows, their TensorBoard summaries and the saved history of a search."""
import os

import numpy as np
import pytest
import tensorflow as tf

from trainer_module import search_progress as progress
from trainer_module import training
from trainer_module.spec import FeatureMES, ModelSpec

SPEC = ModelSpec(budget=1000, mode="ME", features={"user": FeatureMES([(10, 8), (20, 4)]),
                                                    "genre": FeatureMES([])})


def test_rows_carry_phase_stats_cost_ratio_and_mes():
    warm = progress.progress_row(50, True, 0.7, None, SPEC)
    assert warm["phase"] == "warmup" and warm["mean_reward"] is None
    row = progress.progress_row(100, False, 0.5, [0.6, 0.61, 0.9], SPEC)
    assert (row["mean_reward"], row["mean_objective"], row["mean_cost_ratio"]) == (0.6, 0.61, 0.9)
    # Exact accounting: tables 10x8 + 20x4 = 160 floats, projection of the 4-wide entry 4x8 = 32.
    assert row["most_probable_cost_ratio"] == (160 + 32) / 1000
    assert row["mes"] == {"user": [[10, 8], [20, 4]], "genre": []}


def test_history_round_trip_and_fresh_directory(tmp_path):
    assert progress.load_history(str(tmp_path)) == []
    rows = [progress.progress_row(s, s <= 50, 0.5, None if s <= 50 else [0.1, 0.2, 0.3], SPEC)
            for s in (50, 100)]
    progress.save_history(str(tmp_path), rows)
    assert progress.load_history(str(tmp_path)) == rows


def test_report_writes_scalars_and_the_mes_to_tensorboard(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    progress.report(progress.progress_row(100, False, 0.5, [0.6, 0.61, 0.9], SPEC), writer)
    tags = set()
    for name in os.listdir(tmp_path):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(tmp_path, name)):
            tags |= {v.tag for v in event.summary.value}
    assert {"search/main_loss", "search/mean_reward", "search/most_probable_mes"} <= tags


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
