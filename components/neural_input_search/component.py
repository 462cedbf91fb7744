"""NeuralInputSearch component: spec and channels (the work is in ``executor.py``).

A Tuner-like component: it reads the transformed examples and the transform
graph, searches one multi-size embedding per feature under a memory budget
(paper 3.1-3.3) and outputs the MES for the retraining Trainer.
"""
from __future__ import annotations

from typing import Any, Mapping, Optional, Union

from tfx import types
from tfx.dsl.components.base import base_component, executor_spec
from tfx.orchestration import data_types
from tfx.types import standard_artifacts
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import json_utils

from components.artifacts import MultiSizeEmbeddingSpec, SearchResults
from components.neural_input_search import constants as c
from components.neural_input_search import executor
from trainer_module.defaults import DEFAULT_BATCH_SIZE
from trainer_module.data.features import DatasetConfig
from trainer_module.search.config import SearchConfig
from trainer_module.spec.mes import check_accounting

IntOrRuntime = Union[int, data_types.RuntimeParameter]
SearchOptions = Union[SearchConfig, Mapping[str, Any], str, data_types.RuntimeParameter]


def search_config_json(search_config: Optional[SearchOptions], task: str) -> str:
    """The one serialized ``SearchConfig`` of the ``search_config`` execution parameter.

    Args:
      search_config: a ``SearchConfig``, a dict or JSON object of its options (omitted ones keep
        their defaults), or None for all defaults.
      task: the dataset config's task; the options may omit it, and naming another is an error.

    Raises:
      ValueError: one line naming an unknown option, a mistyped value or a differing task.
    """
    if search_config is None:
        return SearchConfig(task=task).to_json()
    if isinstance(search_config, SearchConfig):
        return SearchConfig.from_json(search_config.to_json(), task=task).to_json()
    if isinstance(search_config, str):
        return SearchConfig.from_json(search_config, task=task).to_json()
    return SearchConfig.from_dict(dict(search_config), task=task).to_json()


class NeuralInputSearchSpec(types.ComponentSpec):
    """ComponentSpec of NeuralInputSearch."""

    PARAMETERS = {
        c.BUDGET_KEY: ExecutionParameter(type=int),
        c.MODE_KEY: ExecutionParameter(type=str),
        c.ACCOUNTING_KEY: ExecutionParameter(type=str, optional=True),
        c.SEARCH_CONFIG_KEY: ExecutionParameter(type=str),
        c.TRAIN_BATCH_SIZE_KEY: ExecutionParameter(type=int),
        c.EVAL_BATCH_SIZE_KEY: ExecutionParameter(type=int, optional=True),
        c.STRATEGY_KEY: ExecutionParameter(type=str),
        c.SEARCH_SPACE_KEY: ExecutionParameter(type=str, optional=True),
        c.TRAIN_SPLIT_KEY: ExecutionParameter(type=str),
        c.EVAL_SPLIT_KEY: ExecutionParameter(type=str),
        c.UI_METADATA_PATH_KEY: ExecutionParameter(type=str, optional=True),
        c.CUSTOM_CONFIG_KEY: ExecutionParameter(type=str),
    }
    INPUTS = {
        c.EXAMPLES_KEY: ChannelParameter(type=standard_artifacts.Examples),
        c.TRANSFORM_GRAPH_KEY: ChannelParameter(type=standard_artifacts.TransformGraph),
        c.SCHEMA_KEY: ChannelParameter(type=standard_artifacts.Schema, optional=True),
        c.PREVIOUS_MODEL_KEY: ChannelParameter(type=standard_artifacts.Model, optional=True),
    }
    OUTPUTS = {
        c.EMBEDDING_SPEC_KEY: ChannelParameter(type=MultiSizeEmbeddingSpec),
        c.SEARCH_RESULTS_KEY: ChannelParameter(type=SearchResults),
    }


class NeuralInputSearch(base_component.BaseComponent):
    """Searches a Multi-size Embedding Spec (MES) under a memory budget.

    Component `outputs` contains:
      - `embedding_spec`: `MultiSizeEmbeddingSpec` (``mes.json`` + ``report.md``/``report.html``).
      - `search_results`: `SearchResults` (history, final controller distributions,
        TensorBoard logs, checkpoints).

    Example::

        nis = NeuralInputSearch(
            examples=transform.outputs['transformed_examples'],
            transform_graph=transform.outputs['transform_graph'],
            budget=200_000, mode='ME',
            search_config={'search_steps': 600, 'seed': 3},
            custom_config={'dataset': dataset_config.to_dict()})
    """

    SPEC_CLASS = NeuralInputSearchSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(executor.Executor)

    def __init__(self,
                 examples: types.BaseChannel,
                 transform_graph: types.BaseChannel,
                 budget: IntOrRuntime,
                 custom_config: Mapping[str, Any],
                 schema: Optional[types.BaseChannel] = None,
                 mode: Union[str, data_types.RuntimeParameter] = "ME",
                 search_config: Optional[SearchOptions] = None,
                 train_batch_size: int = DEFAULT_BATCH_SIZE,
                 eval_batch_size: Optional[int] = None,
                 strategy: str = "default",
                 search_space: Optional[Union[str, Mapping[str, Mapping[str, Any]]]] = None,
                 train_split: str = "train",
                 eval_split: str = "eval",
                 ui_metadata_path: Optional[str] = None,
                 accounting: str = "exact",
                 previous_model: Optional[types.BaseChannel] = None,
                 custom_executor_spec: Optional[executor_spec.ExecutorSpec] = None):
        """Constructs a NeuralInputSearch component.

        Args:
          examples: transformed `Examples` (Transform's `transformed_examples`).
          transform_graph: `TransformGraph`; vocabulary sizes and the feature spec come from it.
          budget: memory budget C, total embedding floats allowed (see ``accounting``).
          custom_config: dict with ``'dataset'`` = ``DatasetConfig.to_dict()`` (required; it
            declares the task) and optionally ``'checkpoint_root'`` (the search checkpoints in
            ``<checkpoint_root>/<key>``, the key a digest of the inputs and settings, so a retry or
            re-run resumes; default: ``<pipeline root>/checkpoints/<component id>`` where the
            launcher's output layout shows the pipeline root, else
            ``<search_results uri>/checkpoints``) or an explicit ``'checkpoint_dir'``, which wins.
          schema: optional raw `Schema` (accepted for Tuner-like wiring; unused).
          mode: ``'SE'`` (one size per feature) or ``'ME'`` (multi-size embeddings).
          search_config: every option of the search as one value: a ``SearchConfig``, a dict or
            JSON object of its options (e.g. ``{'search_steps': 600, 'seed': 3}``; omitted ones
            keep their defaults; ``task`` comes from the dataset config), or a string
            RuntimeParameter holding ``SearchConfig.to_json()``. The executor passes it to
            ``run_search`` unchanged.
          train_batch_size: batch size of the main model (on `train_split`).
          eval_batch_size: batch size of the controller (on `eval_split`); for ranking a multiple
            of `group_size` (default: ranking `group_size * groups_per_step` of the
            SearchConfig, i.e. 2,000; retrieval `train_batch_size`).
          strategy: tf.distribute strategy, one of ``trainer_module.data.tfx_io.STRATEGIES``:
            ``'default'``, ``'mirrored'``, ``'tpu'``, ``'multi_worker_mirrored'`` or
            ``'parameter_server'`` (the ``TF_CONFIG`` cluster; tables split over its parameter
            servers by ``custom_config['ps_min_shard_bytes']`` / ``'ps_max_shard_bytes'``,
            workers driven by a ``ClusterCoordinator``, see ``trainer_module/search/loops/parameter_server.py``).
          search_space: per-feature overrides of the search space, e.g.
            ``{'user_id': {'dim': 64}, '*': {'num_dim_chunks': 2}}`` (``'*'``: every feature),
            as a dict or its JSON.
          train_split, eval_split: split names feeding the main model and the controller.
          ui_metadata_path: where to write KFP v1 viewer metadata; default
            ``/mlpipeline-ui-metadata.json`` when running under KFP/Argo, else nothing.
            KFP v2 and Vertex AI do not read that file; there the pipeline's ``RunReport``
            (``system.HTML`` / ``system.Markdown`` artifacts) shows the report.
          accounting: what the budget counts: ``'exact'`` (tables + ME projections, every
            embedding float the retrained model serves) or ``'paper_tables_only'`` (the
            tables alone, the paper's count).
          previous_model: the latest blessed model of the pipeline (a
            ``LatestBlessedModelStrategy`` resolver's output); its ``embedding_spec_uri``
            leads to the previous MES and controller (``trainer_module.search.warm_start``), which
            the search starts from when its ``SearchConfig.warm_start`` is 'on' or 'auto'.
          custom_executor_spec: e.g. ``ExecutorClassSpec(executor.VertexExecutor)``: search on
            a Vertex AI cluster (``components.vertex_training``).
        """
        config = dict(custom_config or {})
        if c.DATASET_CONFIG_KEY not in config:
            raise ValueError("custom_config must carry 'dataset' (DatasetConfig.to_dict())")
        if c.SEARCH_CONFIG_KEY in config:
            raise ValueError("custom_config['search_config'] is not read; pass the search options "
                             "as the search_config argument")
        if isinstance(mode, str) and mode not in ("SE", "ME"):
            raise ValueError(f"mode must be 'SE' or 'ME', got {mode!r}")
        check_accounting(accounting)
        if not isinstance(search_config, data_types.RuntimeParameter):
            task = DatasetConfig.from_dict(config[c.DATASET_CONFIG_KEY]).task
            search_config = search_config_json(search_config, task)
        spec = NeuralInputSearchSpec(
            examples=examples,
            transform_graph=transform_graph,
            schema=schema,
            budget=budget,
            mode=mode,
            accounting=accounting,
            search_config=search_config,
            train_batch_size=train_batch_size,
            eval_batch_size=eval_batch_size,
            strategy=strategy,
            search_space=(search_space if isinstance(search_space, str)
                          else json_utils.dumps(dict(search_space)) if search_space else None),
            train_split=train_split,
            eval_split=eval_split,
            ui_metadata_path=ui_metadata_path,
            custom_config=json_utils.dumps(config),
            previous_model=previous_model,
            embedding_spec=types.Channel(type=MultiSizeEmbeddingSpec),
            search_results=types.Channel(type=SearchResults),
        )
        super().__init__(spec=spec, custom_executor_spec=custom_executor_spec)

