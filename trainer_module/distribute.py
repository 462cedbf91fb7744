"""Multi-machine strategies from ``TF_CONFIG``: parameter servers and multi-worker mirrored.

``parameter_server`` follows TensorFlow's parameter-server runtime: the chief builds the
model under ``tf.distribute.experimental.ParameterServerStrategy``, whose
``variable_partitioner`` splits every variable of at least ``min_shard_bytes`` over the
parameter servers (the embedding tables of the supernet and of the final model, and the
retrieval softmax; the controller and the tower stay whole), and drives the workers with a
``ClusterCoordinator``. Every other task of the cluster (``worker``, ``ps``) runs the same
program: ``make_strategy`` starts its ``tf.distribute.Server`` there and serves until the job
ends, as Vertex AI and the TensorFlow tutorial run it.

``multi_worker_mirrored`` replicates the model on every worker (tables that fit one worker);
without ``TF_CONFIG`` it is one local worker.

Example::

    os.environ["TF_CONFIG"] = json.dumps({"cluster": {"chief": [...], "worker": [...],
                                                       "ps": [...]},
                                          "task": {"type": "chief", "index": 0}})
    strategy = parameter_server_strategy()
"""
from __future__ import annotations

import contextlib
import json
import os
from typing import Dict, List, Optional

import tensorflow as tf

DEFAULT_MIN_SHARD_BYTES = 256 << 10
# What the search's and the trainers' ``strategy`` may name (``tfx_io.make_strategy``).
STRATEGIES = ("default", "mirrored", "tpu", "parameter_server", "multi_worker_mirrored")


def tf_config_resolver() -> tf.distribute.cluster_resolver.TFConfigClusterResolver:
    """The cluster of ``TF_CONFIG``; a one-line error when it cannot run parameter servers."""
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        raise ValueError("strategy 'parameter_server' needs TF_CONFIG (cluster with 'chief', "
                         "'worker' and 'ps' tasks, and this task); it is not set")
    try:
        cluster = json.loads(raw).get("cluster", {})
    except (ValueError, AttributeError) as e:
        raise ValueError(f"TF_CONFIG is not a JSON object ({e}): {raw[:200]!r}") from None
    missing = [job for job in ("chief", "worker", "ps") if not cluster.get(job)]
    if missing:
        raise ValueError(f"strategy 'parameter_server': TF_CONFIG's cluster lacks task(s) {missing} "
                         f"(has {sorted(cluster)})")
    return tf.distribute.cluster_resolver.TFConfigClusterResolver()


def serve_if_not_chief(resolver: tf.distribute.cluster_resolver.ClusterResolver) -> None:
    """On a ``worker`` or ``ps`` task: start its server and serve until the job is ended."""
    if resolver.task_type in ("worker", "ps"):
        os.environ.setdefault("GRPC_FAIL_FAST", "use_caller")
        server = tf.distribute.Server(resolver.cluster_spec(), job_name=resolver.task_type,
                                      task_index=resolver.task_id, protocol=resolver.rpc_layer or "grpc",
                                      start=True)
        server.join()  # never returns: the chief's end ends the job


def parameter_server_strategy(
        resolver: Optional[tf.distribute.cluster_resolver.ClusterResolver] = None,
        min_shard_bytes: int = DEFAULT_MIN_SHARD_BYTES,
        max_shard_bytes: Optional[int] = None) -> tf.distribute.experimental.ParameterServerStrategy:
    """A ``ParameterServerStrategy`` whose large variables are split over every ``ps`` task.

    Args:
      resolver: the cluster (default: ``TF_CONFIG``; on a worker or ps task this serves and
        does not return).
      min_shard_bytes: variables smaller than this stay whole; larger ones get up to one
        shard per parameter server (``MinSizePartitioner``).
      max_shard_bytes: instead, shards of at most this many bytes (``MaxSizePartitioner``,
        for tables too large for one server's share).
    """
    if resolver is None:
        resolver = tf_config_resolver()
        serve_if_not_chief(resolver)
    num_ps = len(resolver.cluster_spec().as_dict().get("ps", []))
    if not num_ps:
        raise ValueError("strategy 'parameter_server': the cluster has no 'ps' task")
    if max_shard_bytes:
        partitioner = tf.distribute.experimental.partitioners.MaxSizePartitioner(
            max_shard_bytes=int(max_shard_bytes))
    else:
        partitioner = tf.distribute.experimental.partitioners.MinSizePartitioner(
            min_shard_bytes=int(min_shard_bytes), max_shards=num_ps)
    return tf.distribute.experimental.ParameterServerStrategy(resolver,
                                                              variable_partitioner=partitioner)


def multi_worker_mirrored_strategy() -> tf.distribute.MultiWorkerMirroredStrategy:
    """All-reduce over the workers of ``TF_CONFIG`` (one local worker without it)."""
    return tf.distribute.MultiWorkerMirroredStrategy(
        cluster_resolver=tf.distribute.cluster_resolver.TFConfigClusterResolver())


def in_process_cluster(num_workers: int = 2, num_ps: int = 2
                       ) -> tf.distribute.cluster_resolver.SimpleClusterResolver:
    """Workers and parameter servers as servers in this process, on free localhost ports
    (TensorFlow's parameter-server tutorial's ``create_in_process_cluster``): a cluster for
    tests and benchmarks on one machine. It configures this process's eager context for good,
    so run it in a process of its own."""
    import portpicker  # a test and benchmark dependency only
    spec = tf.train.ClusterSpec({
        "worker": [f"localhost:{portpicker.pick_unused_port()}" for _ in range(num_workers)],
        "ps": [f"localhost:{portpicker.pick_unused_port()}" for _ in range(num_ps)]})
    worker_config = tf.compat.v1.ConfigProto()
    worker_config.inter_op_parallelism_threads = num_workers + 1
    for i in range(num_workers):
        tf.distribute.Server(spec, job_name="worker", task_index=i, config=worker_config,
                             protocol="grpc")
    for i in range(num_ps):
        tf.distribute.Server(spec, job_name="ps", task_index=i, protocol="grpc")
    return tf.distribute.cluster_resolver.SimpleClusterResolver(spec, rpc_layer="grpc")


def shard_devices(variables) -> Dict[str, List[str]]:
    """``{variable name: [device of each shard]}`` (one entry for an unsplit variable)."""
    out: Dict[str, List[str]] = {}
    for v in variables:  # Keras lists a split variable's shards (``<name>/part_<k>``) one by one
        for part in getattr(v, "variables", None) or [v]:
            name = part.name.split(":")[0].split("/part_")[0]
            out.setdefault(name, []).append(part.device)
    return out


def is_parameter_server(strategy: tf.distribute.Strategy) -> bool:
    """True for a ``ParameterServerStrategy`` (its steps must be scheduled by a coordinator)."""
    return isinstance(strategy, tf.distribute.experimental.ParameterServerStrategy)


def unpartitioned(strategy: tf.distribute.Strategy, anchor: tf.Variable):
    """Under parameter servers, variables created in this context stay whole, beside ``anchor``
    (the controller is small and read whole by every step); elsewhere a no-op."""
    if is_parameter_server(strategy):
        return strategy.extended.colocate_vars_with(anchor)
    return contextlib.nullcontext()
