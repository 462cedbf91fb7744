"""The search's bookkeeping between steps: progress rows, TensorBoard, checkpoints, ``on_step``.

``Checkpointer.restore`` restores the newest checkpoint of ``checkpoint_dir`` (model,
optimizer, controller and step) with the history rows up to its step; after each chunk of
steps the loops call ``after_steps``, which logs a progress row every ``log_every`` steps and
at the end, writes a checkpoint with the history every ``checkpoint_every`` steps and at the
end, then calls ``on_step``.

Example::

    checkpointer = Checkpointer(config, objects, describe, checkpoint_dir="/tmp/ckpt")
    step = checkpointer.restore()
    ...  # run steps up to ``step``
    acc = checkpointer.after_steps(step, warm=False, main_loss=loss, acc=acc)
    checkpointer.history  # the rows so far
"""
from __future__ import annotations

from typing import Callable, Dict, List, Optional

import numpy as np
import tensorflow as tf
from absl import logging

from trainer_module.model.progress import Progress
from trainer_module.search import progress
from trainer_module.search.config import SearchConfig
from trainer_module.spec.mes import ModelSpec


class Checkpointer:
    """Logs, checkpoints and reports a search's progress.

    Args:
      config: the search's settings (``log_every``, ``checkpoint_every``, the steps).
      objects: what a checkpoint holds (``tf.train.Checkpoint`` keyword arguments); its
        ``step`` variable gives the restored step.
      describe: the controller's current most probable MES (logged with each row).
      checkpoint_dir: where checkpoints and ``history.json`` go (None: no checkpoints).
      log_dir: TensorBoard summaries (None: none).
      on_step: called with the step count after each chunk of steps.
      max_to_keep: checkpoints kept.
    """

    def __init__(self, config: SearchConfig, objects: Dict[str, tf.Module],
                 describe: Callable[[], ModelSpec], checkpoint_dir: Optional[str] = None,
                 log_dir: Optional[str] = None, on_step: Optional[Callable[[int], None]] = None,
                 max_to_keep: int = 2):
        self.config, self.objects, self.describe = config, objects, describe
        self.checkpoint_dir, self.log_dir, self.on_step = checkpoint_dir, log_dir, on_step
        self.max_to_keep = max_to_keep
        self.history: List[Dict] = []
        self.timer: Optional[Progress] = None
        self._manager: Optional[tf.train.CheckpointManager] = None
        self._writer = None
        self._last_stats = None  # the last logged controller statistics

    @property
    def step(self) -> int:
        return int(self.objects["step"].numpy())

    def restore(self) -> int:
        """Restores the newest checkpoint, if any, and its history; returns the step reached."""
        if self.checkpoint_dir:
            ckpt = tf.train.Checkpoint(**self.objects)
            self._manager = tf.train.CheckpointManager(ckpt, self.checkpoint_dir,
                                                       max_to_keep=self.max_to_keep)
            if self._manager.latest_checkpoint:
                ckpt.restore(self._manager.latest_checkpoint)
                logging.info("NIS search resumed from %s at step %d",
                             self._manager.latest_checkpoint, self.step)
                self.history = progress.load_history(self.checkpoint_dir, self.step)
        if self.log_dir and self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self.step

    def start_timer(self, total: int, start: int) -> Progress:
        """Times the loop from ``start`` (progress lines with examples/s and ETA)."""
        self.timer = Progress("NeuralInputSearch", total, start=start)
        return self.timer

    def after_steps(self, step: int, warm: bool, main_loss, acc: list) -> list:
        """Bookkeeping once ``step`` steps are done: a progress row at ``log_every`` and at the
        end, a checkpoint with the history at ``checkpoint_every`` and at the end, then
        ``on_step``. ``acc`` holds the controller statistics since the last row; returns those
        still to log (emptied by a logged row)."""
        cfg = self.config
        total = cfg.warmup_steps + cfg.search_steps
        if step % cfg.log_every == 0 or step == total:
            self.history.append(self._log(step, warm, main_loss, acc))
            if self.timer is not None:
                logging.info("%s", self.timer.line(step, "warm-up" if warm else "search"))
            acc = []
        if self._manager and (step % cfg.checkpoint_every == 0 or step == total):
            # Rows first: a checkpoint never lacks the rows up to its step (a kill between the
            # two writes leaves rows past the last checkpoint, which ``restore`` drops).
            progress.save_history(self.checkpoint_dir, self.history)
            self._manager.save(checkpoint_number=step)
        if self.on_step:
            self.on_step(step)
        return acc

    def _log(self, step, warm, main_loss, acc) -> Dict:
        """A progress row; a window without a controller step (``log_every`` below
        ``controller_every``) repeats the last controller statistics."""
        if acc:  # rows of (mean reward, objective, cost ratio), one per controller step
            stats = np.mean(np.concatenate([np.reshape(a, (-1, 3)) for a in acc]), axis=0).tolist()
        else:
            stats = None if warm else self._last_stats
        self._last_stats = stats
        row = progress.progress_row(step, warm, float(main_loss), stats, self.describe())
        progress.report(row, self._writer)
        return row
