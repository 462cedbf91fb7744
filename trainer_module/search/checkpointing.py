"""The search's bookkeeping between steps: progress rows, TensorBoard, checkpoints, ``on_step``.

Every ``log_every`` steps the search appends one row (step, phase, supernet loss, mean
reward / objective / cost ratio of the controller's samples since the last row, the
controller's mean per-decision entropy, the most probable MES) to its history (``progress_row``); ``report`` logs it and writes it to
TensorBoard; the history travels with the checkpoints as ``history.json`` so a resumed
search keeps it (the progress lines: ``trainer_module.model.progress``).

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

import contextlib
import json
import os
import signal
import threading
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from trainer_module.model.progress import PROGRESS_PREFIX, Progress
from trainer_module.search.config import SearchConfig
from trainer_module.spec.mes import ModelSpec


SCALARS = ("mean_reward", "mean_objective", "mean_cost_ratio", "most_probable_cost_ratio",
           "controller_entropy")


def progress_row(step: int, warm: bool, main_loss: float, stats: Optional[Sequence[float]],
                 spec: ModelSpec, entropy: Optional[float] = None) -> Dict:
    """One history row; ``stats`` = mean (reward, objective, cost ratio), None during warm-up;
    ``entropy`` = the controller's mean per-decision entropy (nats), None when not measured."""
    reward, objective, ratio = stats if stats is not None else (None, None, None)
    return {"step": int(step), "phase": "warmup" if warm else "search", "main_loss": float(main_loss),
            "mean_reward": reward, "mean_objective": objective, "mean_cost_ratio": ratio,
            "most_probable_cost_ratio": spec.cost() / spec.budget,
            "controller_entropy": None if entropy is None else float(entropy),
            "mes": {n: [list(e) for e in f.entries] for n, f in spec.features.items()}}


def report(row: Dict, writer: Optional[tf.summary.SummaryWriter] = None) -> None:
    """Logs ``row`` and, with a writer, adds its scalars and MES to TensorBoard."""
    logging.info("NIS step %d [%s] loss=%.4f reward=%s cost/budget=%s MES=%s", row["step"],
                 row["phase"], row["main_loss"], row["mean_reward"], row["mean_cost_ratio"], row["mes"])
    if writer is None:
        return
    with writer.as_default(step=row["step"]):
        tf.summary.scalar("search/main_loss", row["main_loss"])
        for key in SCALARS:
            if row.get(key) is not None:
                tf.summary.scalar(f"search/{key}", row[key])
        tf.summary.text("search/most_probable_mes", json.dumps(row["mes"]))
    writer.flush()


def history_path(checkpoint_dir: str) -> str:
    return os.path.join(checkpoint_dir, "history.json")


def save_history(checkpoint_dir: str, history: List[Dict]) -> None:
    """Writes the rows (to a temporary file, then renamed: a kill mid-write leaves the old rows)."""
    path = history_path(checkpoint_dir)
    tf.io.gfile.makedirs(checkpoint_dir)
    with tf.io.gfile.GFile(path + ".tmp", "w") as f:
        f.write(json.dumps(history))
    tf.io.gfile.rename(path + ".tmp", path, overwrite=True)


def load_history(checkpoint_dir: str, up_to_step: Optional[int] = None) -> List[Dict]:
    """The saved rows up to ``up_to_step`` (the restored checkpoint's step: the rows are saved
    before the checkpoint, so a search killed between the two has rows past it), or [] for a
    fresh checkpoint directory."""
    path = history_path(checkpoint_dir)
    if not tf.io.gfile.exists(path):
        return []
    with tf.io.gfile.GFile(path) as f:
        rows = json.loads(f.read())
    return [r for r in rows if up_to_step is None or r["step"] <= up_to_step]


class Preempted(RuntimeError):
    """The search ended early on a termination signal, after writing a checkpoint."""


class Checkpointer:
    """Logs, checkpoints and reports a search's progress.

    Args:
      config: the search's settings (``log_every``, ``checkpoint_every``, the steps).
      objects: what a checkpoint holds (``tf.train.Checkpoint`` keyword arguments); its
        ``step`` variable gives the restored step.
      describe: the controller's current most probable MES (logged with each row).
      entropy: the controller's current mean per-decision entropy (logged with each row;
        None: not recorded).
      checkpoint_dir: where checkpoints and ``history.json`` go (None: no checkpoints).
      log_dir: TensorBoard summaries (None: none).
      on_step: called with the step count after each chunk of steps.
      max_to_keep: checkpoints kept (a newest one that does not read falls back to the
        one before, so a corrupt write loses at most one ``checkpoint_every`` interval).
    """

    def __init__(self, config: SearchConfig, objects: Dict[str, tf.Module],
                 describe: Callable[[], ModelSpec], checkpoint_dir: Optional[str] = None,
                 log_dir: Optional[str] = None, on_step: Optional[Callable[[int], None]] = None,
                 max_to_keep: int = 3, entropy: Optional[Callable[[], float]] = None):
        self.config, self.objects, self.describe = config, objects, describe
        self.entropy = entropy
        self.checkpoint_dir, self.log_dir, self.on_step = checkpoint_dir, log_dir, on_step
        self.max_to_keep = max_to_keep
        self.history: List[Dict] = []
        self.timer: Optional[Progress] = None
        self._manager: Optional[tf.train.CheckpointManager] = None
        self._writer = None
        self._last_stats = None  # the last logged controller statistics
        self._signal: Optional[int] = None  # a termination signal received (``preemptible``)

    @property
    def step(self) -> int:
        return int(self.objects["step"].numpy())

    def restore(self) -> int:
        """Restores the newest checkpoint that reads, if any, and its history; returns the step.

        A checkpoint that fails to read (truncated or corrupt) is named in a warning and the
        one before it is tried; the resumption is logged as a progress line (shown without
        ``--verbose``).
        """
        if self.checkpoint_dir:
            ckpt = tf.train.Checkpoint(**self.objects)
            self._manager = tf.train.CheckpointManager(ckpt, self.checkpoint_dir,
                                                       max_to_keep=self.max_to_keep)
            for path in reversed(self._manager.checkpoints):  # newest first
                try:
                    ckpt.restore(path)
                except (tf.errors.OpError, ValueError, IndexError) as e:
                    logging.warning("%sNeuralInputSearch: checkpoint %s does not read (%s: %s); "
                                    "trying the one before", PROGRESS_PREFIX, path,
                                    type(e).__name__, str(e).splitlines()[0][:200])
                    continue
                logging.info("%sNeuralInputSearch resumed at step %d from %s", PROGRESS_PREFIX,
                             self.step, path)
                self.history = load_history(self.checkpoint_dir, self.step)
                break
            else:
                if self._manager.checkpoints:
                    raise RuntimeError(f"NeuralInputSearch: no checkpoint in {self.checkpoint_dir} "
                                       f"reads ({len(self._manager.checkpoints)} tried); move the "
                                       f"folder away to start afresh")
        if self.log_dir and self._writer is None:
            self._writer = tf.summary.create_file_writer(self.log_dir)
        return self.step

    @contextlib.contextmanager
    def preemptible(self, signals=(signal.SIGTERM,)):
        """Within it, a termination signal (Kubernetes' and Vertex's preemption notice) ends
        the search at the next chunk boundary with a checkpoint (``Preempted``) instead of at
        once. Outside the main thread (where handlers cannot be set) it does nothing."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = {s: signal.signal(s, self._on_signal) for s in signals}
        try:
            yield
        finally:
            for s, handler in previous.items():
                signal.signal(s, handler)

    def _on_signal(self, signum, frame) -> None:  # noqa: ARG002 - the signal API's arguments
        self._signal = signum

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
            save_history(self.checkpoint_dir, self.history)
            self._manager.save(checkpoint_number=step)
        if self._signal is not None:
            self._preempt(step)
        if self.on_step:
            self.on_step(step)
        return acc

    def _preempt(self, step: int) -> None:
        name = signal.Signals(self._signal).name
        if self._manager:
            save_history(self.checkpoint_dir, self.history)
            self._manager.save(checkpoint_number=step)
            where = f"checkpoint of step {step} written to {self.checkpoint_dir}; run again to resume"
        else:
            where = "no checkpoint directory: the search starts afresh when run again"
        logging.warning("%sNeuralInputSearch stopped by %s at step %d: %s", PROGRESS_PREFIX, name,
                        step, where)
        raise Preempted(f"NeuralInputSearch stopped by {name} at step {step}: {where}")

    def _log(self, step, warm, main_loss, acc) -> Dict:
        """A progress row; a window without a controller step (``log_every`` below
        ``controller_every``) repeats the last controller statistics."""
        if acc:  # rows of (mean reward, objective, cost ratio), one per controller step
            stats = np.mean(np.concatenate([np.reshape(a, (-1, 3)) for a in acc]), axis=0).tolist()
        else:
            stats = None if warm else self._last_stats
        self._last_stats = stats
        row = progress_row(step, warm, float(main_loss), stats, self.describe(),
                           None if self.entropy is None else self.entropy())
        report(row, self._writer)
        return row
