"""Trainer steps per compiled call (``steps_per_execution``): what it saves, where.

``python -m benchmarks.scale_side --rows N --work-dir DIR --fraction 0.01 --what trainer-steps``
trains the uniform SE d=16 model of the budget with the Trainers' recipe at 1 and 64 steps
per call, twice each (alternating):

- one process over gzipped TFRecords (``rows`` train / ``rows // 10`` eval rows of the slice,
  written once under the work dir) read by the pipeline's ``tfx_io.input_fn``, in one-pass
  epochs; above 1 step per call the splits are first counted (``run_fn.sized``), as the
  Trainer does;
- the in-process parameter-server cluster (``cluster.in_process_cluster``: 2 workers, 2
  parameter servers on this machine's cores) over the in-memory arrays, in epochs of a
  fixed step count (no counting needed).

The Trainers' default of 1 step per call follows these numbers (benchmarks/findings.md,
"Trainer steps per call").
"""
from __future__ import annotations

import os
import time
from typing import Dict, List

import numpy as np
import tensorflow as tf

from benchmarks.data import TaskData, tf_dataset
from benchmarks.methods import BATCH_SIZE as BATCH
from trainer_module.spec import baselines
from trainer_module import distribute as cluster
from trainer_module.model import models
from trainer_module.model import trainer as run_fn
from trainer_module.data import tfx_io
from trainer_module.model import training

SPES = (1, 64, 1, 64)


def write_records(data: TaskData, out_dir: str, rows: int) -> Dict[str, str]:
    """Gzipped TFRecords of the first ``rows`` train and ``rows // 10`` eval examples (once)."""
    patterns = {}
    for split, n in (("train", rows), ("eval", max(1, rows // 10))):
        folder = os.path.join(out_dir, split)
        patterns[split] = os.path.join(folder, "*")
        if os.path.isdir(folder):
            continue
        os.makedirs(folder + ".tmp", exist_ok=True)
        feats, labels = data.splits[split]
        n = min(n, len(labels))
        with tf.io.TFRecordWriter(os.path.join(folder + ".tmp", "part-0.gz"), options="GZIP") as w:
            for i in range(n):
                f = {k: tf.train.Feature(int64_list=tf.train.Int64List(value=np.ravel(v[i])))
                     for k, v in feats.items()}
                f[tfx_io.LABEL_KEY] = tf.train.Feature(
                    int64_list=tf.train.Int64List(value=[int(labels[i])]))
                w.write(tf.train.Example(features=tf.train.Features(feature=f)).SerializeToString())
        os.rename(folder + ".tmp", folder)
    return patterns


def _feature_spec(data: TaskData) -> Dict[str, tf.io.FixedLenFeature]:
    feats = data.splits["train"][0]
    spec = {k: tf.io.FixedLenFeature([int(np.prod(v.shape[1:]))], tf.int64)
            for k, v in feats.items()}
    spec[tfx_io.LABEL_KEY] = tf.io.FixedLenFeature([], tf.int64)
    return spec


def one_process(data: TaskData, budget: int, work_dir: str, rows: int,
                epochs: int = 2) -> List[str]:
    """Fit time over TFRecords at 1 and 64 steps per call, and the count that 64 needs."""
    files = write_records(data, os.path.join(work_dir, "trainer_records"), rows)
    spec = baselines.uniform_se_spec(data.vocab_sizes, budget, dim=16)
    fspec, out = _feature_spec(data), []
    for spe in SPES:
        tf.keras.utils.set_random_seed(0)
        start = time.perf_counter()
        train = tfx_io.input_fn(files["train"], fspec, data.dataset, BATCH, repeat=False,
                                drop_unknown_labels=False, seed=0)
        val = tfx_io.input_fn(files["eval"], fspec, data.dataset, BATCH, shuffle=False,
                              repeat=False, drop_unknown_labels=False)
        if spe > 1:
            train = run_fn.sized(train, files["train"], BATCH, "train")
            val = run_fn.sized(val, files["eval"], BATCH, "eval")
        counted = time.perf_counter()
        model = models.build_model(data.dataset, spec, steps_per_execution=spe,
                                   optimizer="lazy_adam")
        fitted = training.fit(model, train, val, data.task, training.TrainRecipe(max_epochs=epochs))
        end = time.perf_counter()
        out.append(f"one process, TFRecords: {spe} steps per call: count {counted - start:.1f} s, "
                   f"fit {end - counted:.1f} s ({fitted.steps:,} steps)")
    return out


def parameter_servers(data: TaskData, budget: int, steps: int = 400,
                      epochs: int = 2) -> List[str]:
    """Fit time on the in-process parameter-server cluster at 1 and 64 steps per call."""
    spec = baselines.uniform_se_spec(data.vocab_sizes, budget, dim=16)
    strategy = cluster.parameter_server_strategy(cluster.in_process_cluster())
    train = tf_dataset(data.splits["train"], BATCH, 0)
    val = tf_dataset(data.splits["eval"], 2048, 1)
    out = []
    for spe in SPES:
        with strategy.scope():
            model = models.build_model(data.dataset, spec, optimizer="lazy_adam",
                                       steps_per_execution=spe)
        start = time.perf_counter()
        fitted = training.fit(model, train, val, data.task, training.TrainRecipe(max_epochs=epochs),
                              steps_per_epoch=steps, validation_steps=2)
        out.append(f"parameter servers: {spe} steps per call: fit {time.perf_counter() - start:.1f} "
                   f"s ({fitted.steps:,} steps)")
    return out
