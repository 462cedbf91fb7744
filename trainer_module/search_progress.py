"""A NIS search's progress: the logged rows, TensorBoard summaries and the saved history.

Every ``log_every`` steps the search appends one row (step, phase, supernet loss,
mean reward / objective / cost ratio of the controller's samples since the last
row, the most probable MES) to its history; ``report`` logs it and writes it to
TensorBoard; the history travels with the checkpoints as ``history.json`` so a
resumed search keeps it. ``Progress`` and ``EpochProgress`` log one
``PROGRESS_PREFIX`` line per log step or epoch (step / total, examples/s, ETA),
which ``nis-pipeline`` shows in its default, quiet output.

Example::

    row = progress_row(100, warm=False, main_loss=0.52, stats=[0.71, 0.71, 0.93],
                       spec=most_probable_spec)
    report(row, tf.summary.create_file_writer(log_dir))
    save_history(checkpoint_dir, history + [row])
"""
from __future__ import annotations

import json
import os
import time
from typing import Dict, List, Optional, Sequence

import tensorflow as tf
from absl import logging

from trainer_module.spec import ModelSpec

PROGRESS_PREFIX = "Progress: "


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


def progress_line(name: str, unit: str, done: int, total: int, elapsed: float, done_here: int,
                  examples: Optional[int] = None, extra: str = "") -> str:
    """``"<name> <unit> done/total (p%)[, extra], N examples/s, ETA t"``.

    ``done_here`` units (and ``examples`` examples) took ``elapsed`` seconds in this
    process, which a resumed search counts from where it resumed.
    """
    line = f"{PROGRESS_PREFIX}{name} {unit} {done}/{total} ({100.0 * done / max(total, 1):.0f}%)"
    if extra:
        line += f", {extra}"
    if elapsed > 0 and done_here > 0:
        if examples:
            line += f", {examples / elapsed:,.0f} examples/s"
        line += f", ETA {_duration((total - done) * elapsed / done_here)}"
    return line


class Progress:
    """Times a loop of ``total`` steps from ``start`` and formats ``progress_line``s."""

    def __init__(self, name: str, total: int, start: int = 0, unit: str = "step"):
        self.name, self.total, self.start, self.unit = name, total, start, unit
        self.examples, self._t0 = 0, time.monotonic()

    def line(self, done: int, extra: str = "") -> str:
        return progress_line(self.name, self.unit, done, self.total, time.monotonic() - self._t0,
                             done - self.start, self.examples or None, extra)


class EpochProgress(tf.keras.callbacks.Callback):
    """Keras callback: one progress line per epoch (loss, validation metrics, examples/s, ETA)."""

    def __init__(self, name: str, epochs: int, batch_size: int):
        super().__init__()
        self.progress, self.batch_size = Progress(name, epochs, unit="epoch"), batch_size
        self._steps, self._started = 0, False

    def on_epoch_begin(self, epoch, logs=None):
        if not self._started:  # a resumed fit starts at a later epoch: rate and ETA from there
            self.progress.start, self._started = epoch, True
        self._steps = 0

    def on_train_batch_end(self, batch, logs=None):
        # ``batch`` is the epoch's last finished step (several per call with steps_per_execution).
        self._steps = batch + 1

    def on_epoch_end(self, epoch, logs=None):
        self.progress.examples += self._steps * self.batch_size
        shown = {k: v for k, v in (logs or {}).items() if k == "loss" or k.startswith("val_")}
        extra = ", ".join(f"{k} {float(v):.4f}" for k, v in shown.items())
        logging.info("%s", self.progress.line(epoch + 1, extra))


SCALARS = ("mean_reward", "mean_objective", "mean_cost_ratio", "most_probable_cost_ratio")


def progress_row(step: int, warm: bool, main_loss: float, stats: Optional[Sequence[float]],
                 spec: ModelSpec) -> Dict:
    """One history row; ``stats`` = mean (reward, objective, cost ratio), None during warm-up."""
    reward, objective, ratio = stats if stats is not None else (None, None, None)
    return {"step": int(step), "phase": "warmup" if warm else "search", "main_loss": float(main_loss),
            "mean_reward": reward, "mean_objective": objective, "mean_cost_ratio": ratio,
            "most_probable_cost_ratio": spec.cost() / spec.budget,
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
            if row[key] is not None:
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
