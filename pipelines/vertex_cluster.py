"""The Vertex AI cluster of the search and the trainers, from ``PipelineConfig.cluster``.

``cluster`` describes one Vertex AI CustomJob, run for the NeuralInputSearch step and for
each trainer::

    {"project": "my-proj", "region": "us-central1",
     "chief": {"machine_type": "n1-highmem-16"},
     "workers": {"count": 4, "machine_type": "n1-standard-16",
                 "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 1},
     "ps": {"count": 2, "machine_type": "n1-highmem-32"}}

The pools become the CustomJob's ``worker_pool_specs`` in Vertex's order (chief, workers,
parameter servers), each running the pipeline image; Vertex sets every replica's
``TF_CONFIG`` from them. With ``ps`` the pipeline's strategy must be ``parameter_server``;
without it, ``multi_worker_mirrored``.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional

POOLS = ("chief", "workers", "ps")
_POOL_KEYS = {"count", "machine_type", "accelerator_type", "accelerator_count"}
_KEYS = {"project", "region", *POOLS}
DEFAULT_MACHINE = "n1-standard-8"


def check(cluster: Mapping[str, Any], strategy: str) -> None:
    """One-line errors for an unusable cluster setting (before anything compiles)."""
    if not isinstance(cluster, Mapping):
        raise ValueError(f"cluster must be a JSON object, got {type(cluster).__name__}")
    unknown = sorted(set(cluster) - _KEYS)
    if unknown:
        raise ValueError(f"unknown cluster key(s) {unknown}; accepted: {sorted(_KEYS)}")
    if not cluster.get("project"):
        raise ValueError("cluster needs 'project' (the GCP project of the Vertex AI jobs)")
    for pool in POOLS:
        spec = cluster.get(pool) or {}
        bad = sorted(set(spec) - _POOL_KEYS)
        if bad:
            raise ValueError(f"cluster[{pool!r}]: unknown key(s) {bad}; accepted: "
                             f"{sorted(_POOL_KEYS)}")
        if pool != "chief" and spec and int(spec.get("count", 1)) < 1:
            raise ValueError(f"cluster[{pool!r}]['count'] must be >= 1, got {spec.get('count')!r}")
    wanted = "parameter_server" if cluster.get("ps") else "multi_worker_mirrored"
    if strategy != wanted:
        raise ValueError(f"a cluster {'with' if cluster.get('ps') else 'without'} parameter servers "
                         f"runs strategy {wanted!r}; the pipeline's strategy is {strategy!r}")
    if wanted == "parameter_server" and not cluster.get("workers"):
        raise ValueError("cluster with parameter servers needs 'workers' (count >= 1)")


def _pool(spec: Mapping[str, Any], image: str, count: int) -> Dict[str, Any]:
    machine: Dict[str, Any] = {"machine_type": spec.get("machine_type", DEFAULT_MACHINE)}
    if spec.get("accelerator_type"):
        machine.update(accelerator_type=spec["accelerator_type"],
                       accelerator_count=int(spec.get("accelerator_count", 1)))
    return {"machine_spec": machine, "replica_count": count, "container_spec": {"image_uri": image}}


def worker_pool_specs(cluster: Mapping[str, Any], image: str) -> List[Dict[str, Any]]:
    """Vertex ``worker_pool_specs``: chief (one replica), workers, parameter servers."""
    pools = [_pool(cluster.get("chief") or {}, image, 1)]
    for name in ("workers", "ps"):
        if cluster.get(name):
            pools.append(_pool(cluster[name], image, int(cluster[name].get("count", 1))))
    return pools


def custom_config(cluster: Optional[Mapping[str, Any]], image: str,
                  display_name: str) -> Dict[str, Any]:
    """The ``custom_config`` entries that make a step's launcher start the CustomJob."""
    if not cluster:
        return {}
    from components.vertex_training import (  # pylint: disable=import-outside-toplevel
        ENABLE_VERTEX_KEY, TRAINING_ARGS_KEY, VERTEX_REGION_KEY)
    job = {"project": cluster["project"], "display_name": display_name,
           "job_spec": {"worker_pool_specs": worker_pool_specs(cluster, image)}}
    return {TRAINING_ARGS_KEY: job, ENABLE_VERTEX_KEY: True,
            VERTEX_REGION_KEY: cluster.get("region", "us-central1")}
