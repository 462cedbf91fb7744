"""MesTrainer: TFX's Trainer spec plus an optional ``embedding_spec`` input channel.

The stock Trainer has no input slot for a ``MultiSizeEmbeddingSpec``; this
component keeps every Trainer input, parameter and output and adds one. The
executor puts the MES JSON path into ``custom_config['mes_uri']`` for the
``run_fn`` (``trainer_module.model.trainer.run_fn``). Without an MES (or with
``custom_config['baseline'] = True``) the run_fn trains the hand-sized
single-size baseline at ``custom_config['budget']`` (or the MES's budget).
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Union

from tfx import types
from tfx.components.util import udf_utils
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter
from tfx.types.system_executions import Train
from tfx.utils import json_utils

from components.artifacts import EMBEDDING_SPEC_KEY, MultiSizeEmbeddingSpec
from components.mes_trainer import executor
_TRAINER = standard_component_specs.TrainerSpec


class MesTrainerSpec(types.ComponentSpec):
    """TrainerSpec + ``embedding_spec`` (optional MultiSizeEmbeddingSpec)."""

    PARAMETERS = dict(_TRAINER.PARAMETERS)
    INPUTS = {**_TRAINER.INPUTS,
              EMBEDDING_SPEC_KEY: ChannelParameter(type=MultiSizeEmbeddingSpec, optional=True)}
    OUTPUTS = dict(_TRAINER.OUTPUTS)
    TYPE_ANNOTATION = Train


class MesTrainer(base_component.BaseComponent):
    """Trains the fixed-size model of an MES (or the SE baseline) with a user run_fn.

    Component `outputs` contains `model` (`Model`) and `model_run` (`ModelRun`), as Trainer's.

    Example::

        trainer = MesTrainer(
            run_fn='trainer_module.model.trainer.run_fn',
            examples=transform.outputs['transformed_examples'],
            transform_graph=transform.outputs['transform_graph'],
            embedding_spec=nis.outputs['embedding_spec'],
            train_args=proto.TrainArgs(num_steps=2000), eval_args=proto.EvalArgs(num_steps=100),
            custom_config={'dataset': dataset_config.to_dict()})
    """

    SPEC_CLASS = MesTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self,
                 examples: types.BaseChannel,
                 transform_graph: types.BaseChannel,
                 embedding_spec: Optional[types.BaseChannel] = None,
                 schema: Optional[types.BaseChannel] = None,
                 base_model: Optional[types.BaseChannel] = None,
                 hyperparameters: Optional[types.BaseChannel] = None,
                 module_file: Optional[Union[str, data_types.RuntimeParameter]] = None,
                 run_fn: Optional[Union[str, data_types.RuntimeParameter]] = None,
                 train_args: Optional[trainer_pb2.TrainArgs] = None,
                 eval_args: Optional[trainer_pb2.EvalArgs] = None,
                 custom_config: Optional[Dict[str, Any]] = None,
                 custom_executor_spec: Optional[executor_spec.ExecutorSpec] = None):
        """Constructs a MesTrainer.

        Args:
          examples: transformed `Examples`.
          transform_graph: `TransformGraph` (the serving signature embeds it).
          embedding_spec: optional `MultiSizeEmbeddingSpec`; omit to train the baseline.
          schema, base_model, hyperparameters: as Trainer's.
          module_file / run_fn: exactly one; e.g. ``run_fn='trainer_module.model.trainer.run_fn'``.
          train_args, eval_args: as Trainer's (``num_steps`` required by our run_fn).
          custom_config: ``{'dataset': DatasetConfig dict, ...}``; see ``trainer_module.model.trainer``.
          custom_executor_spec: e.g. ``ExecutorClassSpec(executor.VertexExecutor)``: train on
            a Vertex AI cluster (``components.vertex_training``).
        """
        if [bool(module_file), bool(run_fn)].count(True) != 1:
            raise ValueError("Exactly one of 'module_file' or 'run_fn' must be supplied.")
        spec = MesTrainerSpec(
            examples=examples,
            transform_graph=transform_graph,
            schema=schema,
            base_model=base_model,
            hyperparameters=hyperparameters,
            embedding_spec=embedding_spec,
            train_args=train_args or trainer_pb2.TrainArgs(),
            eval_args=eval_args or trainer_pb2.EvalArgs(),
            module_file=module_file,
            run_fn=run_fn,
            custom_config=json_utils.dumps(custom_config),
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun))
        super().__init__(spec=spec, custom_executor_spec=custom_executor_spec)
        if udf_utils.should_package_user_modules():
            udf_utils.add_user_module_dependency(self, standard_component_specs.MODULE_FILE_KEY,
                                                 standard_component_specs.MODULE_PATH_KEY)
