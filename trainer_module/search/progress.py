"""A NIS search's progress: the logged rows, TensorBoard summaries and the saved history.

Every ``log_every`` steps the search appends one row (step, phase, supernet loss,
mean reward / objective / cost ratio of the controller's samples since the last
row, the most probable MES) to its history; ``report`` logs it and writes it to
TensorBoard; the history travels with the checkpoints as ``history.json`` so a
resumed search keeps it (the progress lines themselves: ``trainer_module.model.progress``).

Example::

    row = progress_row(100, warm=False, main_loss=0.52, stats=[0.71, 0.71, 0.93],
                       spec=most_probable_spec)
    report(row, tf.summary.create_file_writer(log_dir))
    save_history(checkpoint_dir, history + [row])
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional, Sequence

import tensorflow as tf
from absl import logging

from trainer_module.spec.mes import ModelSpec

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
