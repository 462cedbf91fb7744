"""NeuralInputSearch executor: inputs -> SearchSpace -> run_search -> MES + report + results.

``Executor.Do`` only chains the named functions below, each testable alone.
The feasibility check runs before any dataset or model is built, so a budget
below the cheapest non-empty configuration fails in seconds with a clear message.
"""
from __future__ import annotations

import dataclasses
import json
import os
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Tuple

import tensorflow as tf
from absl import logging
from tfx import types
from tfx.dsl.components.base import base_executor
from tfx.types import artifact_utils
from tfx.utils import io_utils

from components import artifacts, checkpoints
from components.vertex_training import VertexLauncher
from components.neural_input_search import constants as c
from components.mes_trainer import executor as trainer_executor
from components.neural_input_search import report
from components.neural_input_search.request import SearchRequest, search_space_overrides
from trainer_module.data import preprocessing
from trainer_module.data import tfx_io
from trainer_module.search import search as nis_search
from trainer_module.search import warm_start as warm_lib
from trainer_module.data.features import DatasetConfig
from trainer_module.search.space import SearchSpace
from trainer_module.spec import capacity
from trainer_module.spec.mes import ModelSpec

_KFP_UI_METADATA = "/mlpipeline-ui-metadata.json"


class SearchInputs(NamedTuple):
    """Everything the search reads, resolved from artifacts and properties."""

    dataset: DatasetConfig
    transform_graph_uri: str
    train_files: List[str]
    eval_files: List[str]


def resolve_inputs(input_dict: Mapping[str, List[types.Artifact]],
                   request: SearchRequest) -> SearchInputs:
    """Dataset config, transform graph and the split file patterns of ``request``'s splits."""
    examples = input_dict[c.EXAMPLES_KEY]

    def files(split: str) -> List[str]:
        try:
            return [io_utils.all_files_pattern(u) for u in artifact_utils.get_split_uris(examples, split)]
        except ValueError as e:
            raise ValueError(f"transformed examples have no split {split!r}: {e}") from e

    return SearchInputs(dataset=request.dataset,
                        transform_graph_uri=artifact_utils.get_single_uri(input_dict[c.TRANSFORM_GRAPH_KEY]),
                        train_files=files(request.train_split),
                        eval_files=files(request.eval_split))


def build_search_space(vocab_sizes: Mapping[str, int], budget: int, mode: str = "ME",
                       search_space: Optional[str] = None,
                       accounting: str = "exact") -> SearchSpace:
    """The SearchSpace, its budget capped at the full model's floats (``capacity``, as the
    trainers cap it); raises ValueError when no non-empty configuration fits the budget."""
    overrides = search_space_overrides(search_space, list(vocab_sizes))
    budget = capacity.capped_budget(int(budget), vocab_sizes, overrides, "NeuralInputSearch")
    space = SearchSpace.from_vocab_sizes(vocab_sizes, budget=budget, mode=mode,
                                         overrides=overrides, accounting=accounting)
    space.check_feasible()
    return space


def scaled_config(request: SearchRequest, inputs: SearchInputs) -> nis_search.SearchConfig:
    """The search options with their length scaled to ``search_epochs`` passes over the
    train split (``SearchConfig.for_train_examples``; the split is counted once, without
    parsing)."""
    config = request.search
    if not config.search_epochs:
        return config
    examples = tfx_io.count_examples(inputs.train_files)
    scaled = config.for_train_examples(examples, request.batch_sizes[0])
    logging.info("NIS: train split %d examples; search %d warm-up + %d search steps "
                 "(search_epochs=%g; at least %d + %d)", examples, scaled.warmup_steps,
                 scaled.search_steps, config.search_epochs, config.warmup_steps, config.search_steps)
    return scaled


def build_datasets(inputs: SearchInputs, request: SearchRequest,
                   config: nis_search.SearchConfig) -> Tuple[tf.data.Dataset, tf.data.Dataset]:
    """Train split -> main model, eval split -> controller; batched and repeated."""
    train_bs, eval_bs = request.batch_sizes
    train = tfx_io.input_fn(inputs.train_files, inputs.transform_graph_uri, inputs.dataset,
                            train_bs, seed=config.seed)
    val = tfx_io.input_fn(inputs.eval_files, inputs.transform_graph_uri, inputs.dataset,
                          eval_bs, seed=config.seed + 1)
    return train, val


def search_checkpoint_dir(input_dict: Mapping[str, List[types.Artifact]],
                          output_dict: Mapping[str, List[types.Artifact]],
                          exec_properties: Mapping[str, Any], request: SearchRequest,
                          config: nis_search.SearchConfig, context: Any = None) -> str:
    """Where the search checkpoints: the explicit ``custom_config['checkpoint_dir']``, else a
    folder under the pipeline root keyed by the inputs and settings (``components.checkpoints``,
    which fingerprints ``exec_properties``), so a retried or re-run search resumes; else
    ``<search_results uri>/checkpoints``.
    """
    stable = checkpoints.stable_checkpoint_dir(
        input_dict, output_dict, exec_properties, request.custom_config, context,
        extra={"search_config": json.loads(config.to_json())})
    if stable:
        return stable
    results = artifact_utils.get_single_instance(output_dict[c.SEARCH_RESULTS_KEY])
    logging.warning("NIS: no pipeline root known (set custom_config['checkpoint_root'] or "
                    "'checkpoint_dir'); checkpoints stay in this execution's output URI")
    return artifacts.checkpoints_dir(results)


def search_strategy(request: SearchRequest) -> Optional[tf.distribute.Strategy]:
    """The request's strategy (None: the default one). Under ``parameter_server`` the
    cluster's worker and ps tasks serve here and never return."""
    return None if request.strategy == "default" else tfx_io.make_strategy(
        request.strategy, **request.shard_options)


def run(space: SearchSpace, inputs: SearchInputs, train_ds: tf.data.Dataset,
        val_ds: tf.data.Dataset, config: nis_search.SearchConfig, results: types.Artifact,
        checkpoint_dir: Optional[str] = None, warm: Optional[warm_lib.WarmStart] = None,
        controller_dir: Optional[str] = None,
        strategy: Optional[tf.distribute.Strategy] = None) -> nis_search.SearchResult:
    """``run_search`` with TensorBoard logs under `results`, resuming from `checkpoint_dir`.

    `checkpoint_dir` defaults to ``<results uri>/checkpoints``; a checkpoint there
    (from an earlier, interrupted execution) is resumed from its step. `warm` starts the
    search from the previous blessed model's MES and controller; the final controller is
    saved to `controller_dir` for the next run's warm start. `strategy`: None, the default.
    """
    checkpoint_dir = checkpoint_dir or artifacts.checkpoints_dir(results)
    logging.info("NIS: %s search over %d features, budget %d floats, checkpoints in %s",
                 space.mode, len(space.features), space.budget, checkpoint_dir)
    checkpoints.log_resume_state(checkpoint_dir, "NIS search",
                                 config.warmup_steps + config.search_steps)
    return nis_search.run_search(
        space, inputs.dataset, train_ds, val_ds, config,
        num_labels=preprocessing.num_labels(inputs.transform_graph_uri, inputs.dataset),
        strategy=strategy, checkpoint_dir=checkpoint_dir, log_dir=artifacts.logs_dir(results),
        warm_start=warm, controller_dir=controller_dir)


def warm_start(input_dict: Mapping[str, List[types.Artifact]],
               config: nis_search.SearchConfig) -> Optional[warm_lib.WarmStart]:
    """The previous blessed model's MES and controller, per ``config.warm_start``.

    None when the mode is 'off' or no model resolved (the pipeline's first run); 'on'
    raises when the resolved model records no MES, 'auto' searches cold then.
    """
    mode = config.warm_start
    models = input_dict.get(c.PREVIOUS_MODEL_KEY) or []
    if mode == "off" or not models:
        logging.info("NIS: cold search (warm_start=%s, %d previous model)", mode, len(models))
        return None
    model = models[-1]
    key = trainer_executor.EMBEDDING_SPEC_URI_KEY
    uri = model.get_string_custom_property(key) if model.has_custom_property(key) else ""
    if not uri or not tf.io.gfile.exists(artifacts.mes_path(uri)):
        message = (f"the previous blessed model {model.uri} records no MES ({key}="
                   f"{uri or 'unset'}); it was not trained by MesTrainer on a searched MES")
        if mode == "on":
            raise ValueError(f"warm_start='on': {message}")
        logging.warning("NIS: cold search: %s", message)
        return None
    logging.info("NIS: warm start from the MES %s of the previous blessed model %s", uri, model.uri)
    return warm_lib.WarmStart(artifacts.read_mes(uri), artifacts.controller_dir(uri))


def ui_metadata_path(request: SearchRequest) -> Optional[str]:
    """Explicit path, else the KFP v1 path when running in a KFP/Argo pod, else None."""
    if request.ui_metadata_path:
        return request.ui_metadata_path
    in_pod = "KFP_POD_NAME" in os.environ or any(k.startswith("ARGO_") for k in os.environ)
    return _KFP_UI_METADATA if in_pod else None


def write_ui_metadata(path: str, metadata: Dict[str, Any]) -> None:
    """Writes KFP v1 viewer metadata, keeping outputs already in the file."""
    try:
        existing = []
        tf.io.gfile.makedirs(os.path.dirname(path) or ".")
        if tf.io.gfile.exists(path):
            with tf.io.gfile.GFile(path) as f:
                existing = json.load(f).get("outputs", [])
        with tf.io.gfile.GFile(path, "w") as f:
            json.dump({**metadata, "outputs": existing + metadata["outputs"]}, f)
    except (OSError, ValueError, tf.errors.OpError) as e:  # best effort: never fail the search
        logging.warning("could not write UI metadata to %s: %s", path, e)


def write_outputs(output_dict: Mapping[str, List[types.Artifact]], result: nis_search.SearchResult,
                  space: SearchSpace, request: SearchRequest,
                  previous: Optional[ModelSpec] = None) -> None:
    """MES JSON + report next to it, results JSON, custom properties, KFP viewer metadata."""
    mes = artifact_utils.get_single_instance(output_dict[c.EMBEDDING_SPEC_KEY])
    results = artifact_utils.get_single_instance(output_dict[c.SEARCH_RESULTS_KEY])
    artifacts.write_mes(mes, result.spec)
    extra = dict(previous=previous, links={"search": artifacts.logs_dir(results)})
    task = request.dataset.task
    markdown = report.render_markdown(result.spec, result, space, task, **extra)
    html = report.render_html(result.spec, result, space, task, **extra)
    artifacts.write_report(mes, markdown, html)
    artifacts.write_search_results(results, result, task)
    logging.info("NIS: MES cost %d / budget %d (%s accounting) written to %s", result.spec.cost(),
                 result.spec.budget, result.spec.accounting, mes.uri)
    path = ui_metadata_path(request)
    if path:
        write_ui_metadata(path, report.ui_metadata(markdown, html, artifacts.logs_dir(results)))


class Executor(base_executor.BaseExecutor):
    """Runs the Neural Input Search and writes the MES."""

    def Do(self, input_dict: Dict[str, List[types.Artifact]],
           output_dict: Dict[str, List[types.Artifact]],
           exec_properties: Dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        request = SearchRequest.from_exec_properties(exec_properties)
        strategy = search_strategy(request)  # first: a ps or worker task serves here
        inputs = resolve_inputs(input_dict, request)
        vocab_sizes = preprocessing.vocab_sizes_from_transform_output(
            inputs.transform_graph_uri, inputs.dataset)
        space = build_search_space(vocab_sizes, request.budget, request.mode,
                                   request.search_space, request.accounting)
        config = scaled_config(request, inputs)
        space = nis_search.searched_space(space, config)  # the report labels its decisions
        warm = warm_start(input_dict, config)
        if warm is not None and config.warm_start_search_steps is not None:
            config = dataclasses.replace(config, search_steps=config.warm_start_search_steps)
        train_ds, val_ds = build_datasets(inputs, request, config)
        results = artifact_utils.get_single_instance(output_dict[c.SEARCH_RESULTS_KEY])
        checkpoint_dir = search_checkpoint_dir(input_dict, output_dict, exec_properties, request,
                                               config, self._context)
        mes = artifact_utils.get_single_instance(output_dict[c.EMBEDDING_SPEC_KEY])
        result = run(space, inputs, train_ds, val_ds, config, results, checkpoint_dir, warm,
                     controller_dir=artifacts.controller_dir(mes), strategy=strategy)
        write_outputs(output_dict, result, space, request,
                      previous=warm.spec if warm is not None else None)


class VertexExecutor(VertexLauncher):
    """Runs ``Executor`` on every replica of a Vertex AI CustomJob (``components.vertex_training``)."""

    LOCAL_EXECUTOR = "components.neural_input_search.executor.Executor"
