"""MesTrainer executor: TFX's GenericExecutor that hands the MES path and a checkpoint dir to the run_fn.

The run_fn's ``custom_config`` (``run_fn_config``; the run_fn parses it once into a
``TrainerConfig``) is the component's, with ``mes_uri`` set to the MES JSON path of the
``embedding_spec`` input (when one is wired) and ``checkpoint_dir`` to a stable folder
keyed by the inputs, the MES and the training settings (``components.checkpoints``), so a
preempted training that is retried or re-run continues from its checkpoints. An explicit
``checkpoint_dir`` wins; the keys consumed here and by the Vertex launcher
(``checkpoint_root``, ``vertex_training.LAUNCHER_KEYS``) are dropped. The output model
records the MES artifact's URI as its ``embedding_spec_uri`` property, so a later run that
resolves it from MLMD (latest blessed model) finds the MES it was trained on. Everything
else is Trainer's.
"""
from __future__ import annotations

from typing import Any, Dict, List, Mapping

from absl import logging
from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.components.trainer import fn_args_utils

from components import artifacts, checkpoints
from components.vertex_training import LAUNCHER_KEYS, VertexLauncher
from components.artifacts import EMBEDDING_SPEC_KEY

MES_URI_KEY = "mes_uri"


def with_mes_uri(custom_config: Dict[str, Any] | None,
                 input_dict: Dict[str, List[types.Artifact]]) -> Dict[str, Any]:
    """A copy of custom_config with 'mes_uri' set when the embedding_spec input is present."""
    config = dict(custom_config or {})
    specs = input_dict.get(EMBEDDING_SPEC_KEY) or []
    if specs:
        config[MES_URI_KEY] = artifacts.mes_path(specs)
    return config


def with_checkpoint_dir(custom_config: Dict[str, Any] | None,
                        input_dict: Mapping[str, List[types.Artifact]],
                        output_dict: Mapping[str, List[types.Artifact]],
                        exec_properties: Mapping[str, Any], context: Any = None) -> Dict[str, Any]:
    """A copy of custom_config with 'checkpoint_dir' set to the stable folder, when one is known.

    The key covers every input artifact (the MES content included), the train/eval
    args, the run_fn and the custom_config, so a different training never resumes
    from another's checkpoints.
    """
    config = dict(custom_config or {})
    stable = checkpoints.stable_checkpoint_dir(input_dict, output_dict, exec_properties, config,
                                               context)
    config.pop(checkpoints.CHECKPOINT_ROOT_KEY, None)
    if stable:
        config[checkpoints.CHECKPOINT_DIR_KEY] = stable
        logging.info("Trainer: checkpoint_dir %s", stable)
    return config


def run_fn_config(custom_config: Dict[str, Any] | None,
                  input_dict: Dict[str, List[types.Artifact]],
                  output_dict: Dict[str, List[types.Artifact]],
                  exec_properties: Mapping[str, Any], context: Any = None) -> Dict[str, Any]:
    """The run_fn's custom_config: ``mes_uri`` and ``checkpoint_dir`` set, the launcher's keys
    dropped (what ``TrainerConfig.from_custom_config`` accepts)."""
    config = with_checkpoint_dir(with_mes_uri(custom_config, input_dict), input_dict,
                                 output_dict, exec_properties, context)
    return {k: v for k, v in config.items() if k not in LAUNCHER_KEYS}


EMBEDDING_SPEC_URI_KEY = "embedding_spec_uri"


def record_embedding_spec(input_dict: Dict[str, List[types.Artifact]],
                          output_dict: Dict[str, List[types.Artifact]]) -> None:
    """Sets ``embedding_spec_uri`` on the output model, so a later run that resolves this
    model from MLMD (latest blessed model) finds the MES it was trained on."""
    specs = input_dict.get(EMBEDDING_SPEC_KEY) or []
    if specs:
        for model in output_dict.get("model", []):
            model.set_string_custom_property(EMBEDDING_SPEC_URI_KEY, artifacts.artifact_uri(specs))


class Executor(trainer_executor.GenericExecutor):
    """GenericExecutor + ``custom_config['mes_uri']`` and ``custom_config['checkpoint_dir']``;
    the model records its MES URI."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        record_embedding_spec(input_dict, output_dict)

    def _GetFnArgs(self, input_dict: Dict[str, List[types.Artifact]],
                   output_dict: Dict[str, List[types.Artifact]],
                   exec_properties: Dict[str, Any]) -> fn_args_utils.FnArgs:
        fn_args = super()._GetFnArgs(input_dict, output_dict, exec_properties)
        fn_args.custom_config = run_fn_config(fn_args.custom_config, input_dict, output_dict,
                                              exec_properties, self._context)
        return fn_args


class VertexExecutor(VertexLauncher):
    """Runs ``Executor`` on every replica of a Vertex AI CustomJob (``components.vertex_training``)."""

    LOCAL_EXECUTOR = "components.mes_trainer.executor.Executor"
