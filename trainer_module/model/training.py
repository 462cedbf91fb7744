"""The one training recipe of every fixed-size model: train until validation stops improving.

``fit`` runs epochs until the validation metric (ROC-AUC for ranking, Recall@1 for
retrieval) has not improved for ``patience`` epochs or ``max_epochs`` is reached,
then restores the weights of the best epoch. The pipeline's Trainers (``run_fn``)
and the benchmark (``benchmarks.methods.train_eval``) both call it, so a model in
the benchmark tables is trained exactly as the pipeline trains it.

With a ``checkpoint_dir`` the recipe survives preemption: after every epoch it saves
the model, the optimizer and its own state (epoch, best value, best epoch, the
validation curve, the best weights), and a later call with the same directory
continues from the last finished epoch instead of starting over.

Example::

    result = fit(model, train_ds, val_ds, task="ranking", recipe=TrainRecipe(max_epochs=20))
    result.best_epoch, result.curve    # 1-based epoch whose weights the model now holds
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Optional, Sequence

import tensorflow as tf
from absl import logging

DEFAULT_MAX_EPOCHS = 20
DEFAULT_PATIENCE = 2
STATE_FILE = "recipe_state.json"


def monitor_name(task: str) -> str:
    """The validation metric the recipe keeps the best epoch of."""
    return "val_auc" if task == "ranking" else "val_recall_at_1"


@dataclasses.dataclass(frozen=True)
class TrainRecipe:
    """How long to train.

    Attributes:
      max_epochs: epochs at most (an epoch is ``steps_per_epoch`` steps, or one pass).
      patience: epochs without a new best validation value before stopping.
      max_steps: optional cap on the total training steps (TFX ``TrainArgs.num_steps``);
        the epoch in which it is reached ends early and is still validated.
    """

    max_epochs: int = DEFAULT_MAX_EPOCHS
    patience: int = DEFAULT_PATIENCE
    max_steps: Optional[int] = None

    def __post_init__(self):
        if self.max_epochs < 1:
            raise ValueError(f"max_epochs must be >= 1, got {self.max_epochs}")
        if self.patience < 0:
            raise ValueError(f"patience must be >= 0, got {self.patience}")
        if self.max_steps is not None and self.max_steps < 1:
            raise ValueError(f"max_steps must be >= 1 when set, got {self.max_steps}")


@dataclasses.dataclass
class FitResult:
    """What the recipe did: the per-epoch logs and the epoch whose weights were kept."""

    monitor: str
    curve: List[float]                       # validation metric per epoch
    history: Dict[str, List[float]]          # every logged metric per epoch
    best_epoch: int                          # 1-based
    steps: int                               # training steps run, resumed ones included
    resumed_from_epoch: int = 0              # epochs found in the checkpoint (0: fresh start)

    @property
    def best_value(self) -> float:
        return self.curve[self.best_epoch - 1]

    @property
    def epochs(self) -> int:
        return len(self.curve)

    def to_dict(self) -> Dict[str, Any]:
        return {"monitor": self.monitor, "best_epoch": self.best_epoch,
                "best_value": self.best_value, "epochs": self.epochs, "curve": self.curve,
                "steps": self.steps, "resumed_from_epoch": self.resumed_from_epoch,
                "history": self.history}


class _Recipe(tf.keras.callbacks.Callback):
    """Early stopping with best-weight restore, a step cap and per-epoch checkpoints."""

    def __init__(self, monitor: str, recipe: TrainRecipe, checkpoint_dir: Optional[str],
                 epoch_steps: Optional[int] = None):
        super().__init__()
        self.monitor, self.recipe, self.dir = monitor, recipe, checkpoint_dir
        self.epoch_steps = epoch_steps
        self.state: Dict[str, Any] = {"epoch": 0, "steps": 0, "best_epoch": 0, "history": {}}
        self.best_weights: Optional[List] = None
        self.resumed_from_epoch = 0

    # ---------------------------------------------------------------- checkpoints
    def _ckpt(self) -> tf.train.Checkpoint:
        return tf.train.Checkpoint(model=self.model, optimizer=self.model.optimizer)

    def _path(self, name: str) -> str:
        return os.path.join(self.dir, name)

    def restore(self, train: tf.data.Dataset) -> int:
        """Loads the last finished epoch's state; returns the epoch to continue from."""
        if not self.dir or not tf.io.gfile.exists(self._path(STATE_FILE)):
            return 0
        with tf.io.gfile.GFile(self._path(STATE_FILE)) as f:
            self.state = json.load(f)
        features = next(iter(train))[0]
        self.model(features)  # variables (and slots below) exist before the checkpoint is read
        self.model.optimizer.build(self.model.trainable_variables)
        tf.train.Checkpoint(model=self.model).read(self._path("best")).expect_partial()
        self.best_weights = self.model.get_weights()
        self._ckpt().read(self._path("last")).expect_partial()
        self.resumed_from_epoch = int(self.state["epoch"])
        logging.info("training recipe: resuming after epoch %d (best epoch %d, %s %s) from %s",
                     self.resumed_from_epoch, self.state["best_epoch"], self.monitor,
                     self.curve[self.state["best_epoch"] - 1] if self.state["best_epoch"] else None,
                     self.dir)
        return self.resumed_from_epoch

    def _save(self, improved: bool) -> None:
        tf.io.gfile.makedirs(self.dir)
        if improved:
            tf.train.Checkpoint(model=self.model).write(self._path("best"))
        self._ckpt().write(self._path("last"))
        tmp = self._path(STATE_FILE + ".tmp")
        with tf.io.gfile.GFile(tmp, "w") as f:
            json.dump(self.state, f)
        tf.io.gfile.rename(tmp, self._path(STATE_FILE), overwrite=True)  # the state commits the epoch

    # ------------------------------------------------------------------ the recipe
    @property
    def curve(self) -> List[float]:
        return self.state["history"].get(self.monitor, [])

    def done(self) -> bool:
        """True when a resumed state has already met a stopping rule."""
        epoch, best = self.state["epoch"], self.state["best_epoch"]
        return (epoch >= self.recipe.max_epochs or bool(best and epoch - best >= self.recipe.patience)
                or bool(self.recipe.max_steps and self.state["steps"] >= self.recipe.max_steps))

    def on_epoch_end(self, epoch, logs=None):
        if self.epoch_steps:  # no batch hooks: every epoch runs its fixed step count
            self.state["steps"] += self.epoch_steps
        logs = logs or {}
        if self.monitor not in logs:
            raise ValueError(f"training recipe: no {self.monitor!r} in the epoch logs "
                             f"{sorted(logs)}; is validation data given?")
        for key, value in logs.items():
            self.state["history"].setdefault(key, []).append(float(value))
        self.state["epoch"] = epoch + 1
        best = self.state["best_epoch"]
        improved = not best or self.curve[-1] > self.curve[best - 1]
        if improved:
            self.state["best_epoch"] = epoch + 1
            self.best_weights = self.model.get_weights()
        if self.dir:
            self._save(improved)
        if self.done():
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.best_weights is not None:
            self.model.set_weights(self.best_weights)


class _StepRecipe(_Recipe):
    """The recipe counting steps as they finish, so ``max_steps`` can end an epoch early.

    With several steps per compiled call (``steps_per_execution``), the call that would run
    past ``max_steps`` is shortened to end on it: Keras reads the model's settable
    ``steps_per_execution`` variable when the call runs; its value is restored at the end.
    """

    _spe: Optional[tf.Variable] = None
    _spe_value = 1
    _shortened = False  # the running call was cut to end on max_steps

    def on_train_begin(self, logs=None):
        self._spe = getattr(self.model, "steps_per_execution", None)
        self._spe_value = 1 if self._spe is None else int(self._spe.numpy())
        self._shortened = False

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start_steps = self.state["steps"]

    def on_train_batch_begin(self, batch, logs=None):
        cap = self.recipe.max_steps
        if cap and self._spe_value > 1:
            left = cap - (self._epoch_start_steps + int(batch))
            if 0 < left < int(self._spe.numpy()):
                self._spe.assign(left)
                self._shortened = True

    def on_train_batch_end(self, batch, logs=None):
        # ``batch`` is the epoch's last finished step (several per call with steps_per_execution)
        self.state["steps"] = (self.recipe.max_steps if self._shortened
                               else self._epoch_start_steps + int(batch) + 1)
        if self.recipe.max_steps and self.state["steps"] >= self.recipe.max_steps:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self._shortened:
            self._spe.assign(self._spe_value)
        super().on_train_end(logs)


def fit(model: tf.keras.Model, train: tf.data.Dataset, val: tf.data.Dataset, task: str,
        recipe: TrainRecipe = TrainRecipe(), steps_per_epoch: Optional[int] = None,
        validation_steps: Optional[int] = None,
        callbacks: Sequence[tf.keras.callbacks.Callback] = (),
        checkpoint_dir: Optional[str] = None, verbose: int = 0) -> FitResult:
    """Trains ``model`` (compiled) with the recipe; the model ends with its best epoch's weights.

    Args:
      model: a compiled Keras model whose metrics include the task's monitor
        (``models.build_model`` compiles ``auc`` / ``recall_at_1``).
      train, val: training and validation datasets; without ``steps_per_epoch`` an
        epoch is one pass over ``train`` (which must then be finite). Under a
        ``ParameterServerStrategy`` (the model built in its scope) every worker reads its
        own copy of ``train``: ``steps_per_epoch`` and ``validation_steps`` are required.
      task: "ranking" or "retrieval" (selects the monitored validation metric).
      recipe: epochs, patience and step cap.
      callbacks: extra Keras callbacks (TensorBoard, timers).
      checkpoint_dir: where to save per-epoch state and resume from (None: no checkpoints).
      verbose: Keras ``fit`` verbosity.
    """
    monitor = monitor_name(task)
    strategy = model.distribute_strategy
    if isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy):
        if not steps_per_epoch:
            raise ValueError("training under parameter servers needs steps_per_epoch (the "
                             "workers read endless copies of the data)")
        with strategy.scope():  # variables and slots exist before any step is scheduled
            model(next(iter(train))[0])
            model.optimizer.build(model.trainable_variables)
        # Keras runs no batch-level callbacks under parameter servers: steps are counted per
        # epoch, and max_steps ends training at the end of the epoch that reaches it.
        state = _Recipe(monitor, recipe, checkpoint_dir, epoch_steps=steps_per_epoch)
    else:
        state = _StepRecipe(monitor, recipe, checkpoint_dir)
    state.set_model(model)
    start = state.restore(train)
    if start and state.done():
        logging.info("training recipe: the checkpoint in %s already finished (epoch %d)",
                     checkpoint_dir, start)
        state.on_train_end()
    else:
        model.fit(train, epochs=recipe.max_epochs, initial_epoch=start,
                  steps_per_epoch=steps_per_epoch, validation_data=val,
                  validation_steps=validation_steps, callbacks=[*callbacks, state],
                  verbose=verbose)
    result = FitResult(monitor, list(state.curve), dict(state.state["history"]),
                       int(state.state["best_epoch"]), int(state.state["steps"]),
                       state.resumed_from_epoch)
    logging.info("training recipe: %d epochs, best epoch %d (%s %.5f)", result.epochs,
                 result.best_epoch, monitor, result.best_value)
    return result
