"""Running a component's executor as a Vertex AI custom training job on a cluster.

The NeuralInputSearch and MesTrainer components can run their executor on a Vertex AI
``CustomJob`` with several worker pools (chief, workers, parameter servers) instead of in
the pipeline step's own container, the way TFX's
``tfx.extensions.google_cloud_ai_platform.Trainer`` does: the step's executor is a small
launcher (``VertexLauncher``) that reads ``custom_config['ai_platform_training_args']``
(a CustomJob: ``project`` and ``job_spec.worker_pool_specs``),
``custom_config['ai_platform_enable_vertex']`` and ``'ai_platform_vertex_region'``, and
calls TFX's ``runner.start_cloud_training``. Every replica of the job runs
``python -m tfx.scripts.run_executor`` with the component's own executor and the same
inputs, outputs and properties; Vertex gives each replica its ``TF_CONFIG``, so the
``parameter_server`` strategy makes the chief run the search (or the training) and the
worker and ps replicas serve it. ``pipelines.vertex_cluster`` builds the CustomJob from the
pipeline config.
"""
from __future__ import annotations

from typing import Any, Dict, List

from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.extensions.google_cloud_ai_platform import runner
from tfx.extensions.google_cloud_ai_platform.constants import ENABLE_VERTEX_KEY, VERTEX_REGION_KEY
from tfx.extensions.google_cloud_ai_platform.trainer.executor import JOB_ID_KEY, TRAINING_ARGS_KEY
from tfx.utils import json_utils

__all__ = ["ENABLE_VERTEX_KEY", "VERTEX_REGION_KEY", "TRAINING_ARGS_KEY", "JOB_ID_KEY",
           "LAUNCHER_KEYS", "VertexLauncher"]
# The custom_config keys this launcher reads; the executors it starts ignore them.
LAUNCHER_KEYS = (TRAINING_ARGS_KEY, JOB_ID_KEY, ENABLE_VERTEX_KEY, VERTEX_REGION_KEY)


class VertexLauncher(base_executor.BaseExecutor):
    """Starts ``LOCAL_EXECUTOR`` (a class path) on every replica of a Vertex CustomJob and
    waits for the job; subclasses name their component's executor."""

    LOCAL_EXECUTOR = ""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        config = json_utils.loads(exec_properties.get("custom_config") or "null") or {}
        job_args = config.get(TRAINING_ARGS_KEY)
        if not isinstance(job_args, dict) or "project" not in job_args:
            raise ValueError(f"custom_config[{TRAINING_ARGS_KEY!r}] must be a CustomJob dict with "
                             f"'project' and 'job_spec'; got {job_args!r}")
        runner.start_cloud_training(input_dict, output_dict, exec_properties,
                                    self.LOCAL_EXECUTOR, dict(job_args), config.get(JOB_ID_KEY),
                                    None, bool(config.get(ENABLE_VERTEX_KEY, True)),
                                    config.get(VERTEX_REGION_KEY))
