"""Executions left RUNNING by a killed local run: find them and mark them FAILED.

A local run that is killed (``kill -9``, a preempted VM) leaves its current
execution RUNNING in MLMD forever, with partial outputs on disk that no artifact
records. The next run of the same pipeline marks such executions FAILED before
it starts, and logs each one with the folders of its partial outputs (left in
place: they are not deleted).

Whether an active execution is stale is decided with the pipeline root's run
lock (``pipelines.ops.run_lock.try_run_lock``), which every local run holds for its
whole duration: the OS releases it when the process dies, however it dies. When
this run gets the lock, no other run of this pipeline root is alive and every
NEW/RUNNING execution of the pipeline is stale; when another run holds it, active executions may be that
run's, so they are only reported.
"""
from __future__ import annotations

import glob
import os
import time
from typing import List

from absl import logging
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipelines.ops.run_lock import LOCK_FILE

Execution = metadata_store_pb2.Execution
ACTIVE_STATES = (Execution.NEW, Execution.RUNNING)
REASON_PROPERTY = "stale_reason"


def active_executions(store: metadata_store.MetadataStore, pipeline_name: str) -> List[Execution]:
    """NEW or RUNNING executions attributed to the ``pipeline`` context ``pipeline_name``."""
    context = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if context is None:
        return []
    return sorted((e for e in store.get_executions_by_context(context.id)
                   if e.last_known_state in ACTIVE_STATES), key=lambda e: e.id)


def _node_id(store: metadata_store.MetadataStore, execution: Execution) -> str:
    for context in store.get_contexts_by_execution(execution.id):
        if context.type == "node":
            return context.name.split(".", 1)[-1]
    return execution.type


def describe(store: metadata_store.MetadataStore, execution: Execution, pipeline_root: str) -> str:
    """``<node> (execution <id>[, partial outputs left in <dirs>])``: its unrecorded output folders."""
    node = _node_id(store, execution)
    partial = sorted(glob.glob(os.path.join(pipeline_root, node, "*", str(execution.id))))
    where = f", partial outputs left in {' '.join(partial)}" if partial else ""
    return f"{node} (execution {execution.id}{where})"


def settle(store: metadata_store.MetadataStore, pipeline_name: str, pipeline_root: str,
           alone: bool) -> List[int]:
    """Marks the pipeline's active executions FAILED when ``alone``, else only logs them.

    Returns the ids of the executions marked FAILED.
    """
    active = active_executions(store, pipeline_name)
    if not active:
        return []
    described = "; ".join(describe(store, e, pipeline_root) for e in active)
    if not alone:
        logging.warning("Another run of pipeline %r holds %s; its active executions are left as "
                        "they are: %s", pipeline_name, os.path.join(pipeline_root, LOCK_FILE),
                        described)
        return []
    when = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    for execution in active:
        execution.custom_properties[REASON_PROPERTY].string_value = (
            f"left {Execution.State.Name(execution.last_known_state)} by a run that ended without "
            f"recording a result (killed?); marked FAILED by the next run at {when}")
        execution.last_known_state = Execution.FAILED
    store.put_executions(active)
    logging.warning("Marked %d stale execution(s) of pipeline %r FAILED (left active by a run "
                    "that was killed): %s", len(active), pipeline_name, described)
    return [e.id for e in active]
