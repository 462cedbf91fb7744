"""Progress lines: one ``PROGRESS_PREFIX`` line per search log step or trainer epoch.

``Progress`` times a loop and formats ``step / total (p%), examples/s, ETA``;
``EpochProgress`` is the Keras callback that logs one such line per epoch.
``nis-pipeline`` shows these lines in its default, quiet output.
"""
from __future__ import annotations

import time
from typing import Optional

import tensorflow as tf
from absl import logging

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
