"""MesTrainer executor: TFX's GenericExecutor that hands the MES path to the run_fn.

``custom_config['mes_uri']`` is set to the MES JSON path of the
``embedding_spec`` input (when one is wired); everything else is Trainer's.
"""
from __future__ import annotations

from typing import Any, Dict, List

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.components.trainer import fn_args_utils

from components import artifacts

EMBEDDING_SPEC_KEY = "embedding_spec"
MES_URI_KEY = "mes_uri"


def with_mes_uri(custom_config: Dict[str, Any] | None,
                 input_dict: Dict[str, List[types.Artifact]]) -> Dict[str, Any]:
    """A copy of custom_config with 'mes_uri' set when the embedding_spec input is present."""
    config = dict(custom_config or {})
    specs = input_dict.get(EMBEDDING_SPEC_KEY) or []
    if specs:
        config[MES_URI_KEY] = artifacts.mes_path(specs)
    return config


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
    """GenericExecutor + ``custom_config['mes_uri']``; the model records its MES URI."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        super().Do(input_dict, output_dict, exec_properties)
        record_embedding_spec(input_dict, output_dict)

    def _GetFnArgs(self, input_dict: Dict[str, List[types.Artifact]],
                   output_dict: Dict[str, List[types.Artifact]],
                   exec_properties: Dict[str, Any]) -> fn_args_utils.FnArgs:
        fn_args = super()._GetFnArgs(input_dict, output_dict, exec_properties)
        fn_args.custom_config = with_mes_uri(fn_args.custom_config, input_dict)
        return fn_args
