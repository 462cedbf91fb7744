"""The NIS TFX pipeline: wiring only, no runner (data flow: docs/architecture.md).

The AnomaliesGate (before Transform) and the VocabularyGate (after it, an
upstream node of the search and both trainers) stop a run on unusable input
before any expensive step. A scheduled re-run compares its candidate twice (with
the same-run SE baseline and, through ``LatestBlessedModelResolver``, with the
latest blessed model, which serves); ``BlessingGate`` ANDs both for the Pusher,
and ``RunReport`` renders the verdict (metrics of the three models, the blessing and its
reason) and the MES report for the KFP v2 / Vertex run page.
Every component id is fixed (``COMPONENT_IDS``) so runners, tests and MLMD
queries can refer to them. Runners add the MLMD connection, Beam arguments and
per-step resources; ``create_pipeline`` does not know which runner runs it.

Usage::

    cfg = PipelineConfig(data_path=..., schema_path=..., dataset_config_path=...)
    p = create_pipeline(cfg, metadata_connection_config=...)
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional

from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx
from tfx.dsl.components.base import executor_spec

import tensorflow_model_analysis as tfma

from components.checkpoints import CHECKPOINT_ROOT_KEY, CHECKPOINTS_FOLDER
from components.mes_trainer import MesTrainer
from components.mes_trainer import executor as trainer_executor
from components.mes_trainer.eval_config import key_metric, make_eval_config
from components.neural_input_search import NeuralInputSearch
from components.neural_input_search import executor as nis_executor
from components.gates.anomalies import AnomaliesGate
from components.gates.blessing import BlessingGate
from pipelines import vertex_cluster
from pipelines.config import PipelineConfig
from components.run_report.component import RunReport
from components.gates.vocabulary import VocabularyGate

EXAMPLE_GEN = "ExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "SchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
ANOMALIES_GATE = "AnomaliesGate"
TRANSFORM = "Transform"
VOCABULARY_GATE = "VocabularyGate"
SEARCH = "NeuralInputSearch"
TRAINER = "Trainer"
BASELINE_TRAINER = "BaselineTrainer"
EVALUATOR = "Evaluator"
LATEST_BLESSED_RESOLVER = "LatestBlessedModelResolver"
SERVING_EVALUATOR = "ServingEvaluator"
BLESSING_GATE = "BlessingGate"
PUSHER = "Pusher"
RUN_REPORT = "RunReport"
COMPONENT_IDS = (EXAMPLE_GEN, STATISTICS_GEN, SCHEMA_GEN, EXAMPLE_VALIDATOR, ANOMALIES_GATE,
                 TRANSFORM, VOCABULARY_GATE, LATEST_BLESSED_RESOLVER, SEARCH, TRAINER,
                 BASELINE_TRAINER, EVALUATOR, SERVING_EVALUATOR, BLESSING_GATE, PUSHER, RUN_REPORT)


def _example_gen(cfg: PipelineConfig):
    """CsvExampleGen / ImportExampleGen with hash-bucket splits or pre-split input."""
    kwargs = {"input_base": cfg.data_path}
    if cfg.input_splits:
        kwargs["input_config"] = tfx.proto.Input(splits=[
            tfx.proto.Input.Split(name=name, pattern=pattern)
            for name, pattern in cfg.input_splits.items()])
    else:
        kwargs["output_config"] = tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
            tfx.proto.SplitConfig.Split(name=name, hash_buckets=int(buckets))
            for name, buckets in cfg.split_ratios.items()]))
    if cfg.input_format == "tfrecord":
        return tfx.components.ImportExampleGen(**kwargs).with_id(EXAMPLE_GEN)
    return tfx.components.CsvExampleGen(**kwargs).with_id(EXAMPLE_GEN)


def _eval_split(cfg: PipelineConfig) -> str:
    return "test" if "test" in cfg.split_names else "eval"


def _eval_config(cfg: PipelineConfig) -> tfma.EvalConfig:
    """TFMA config: NIS model = candidate, SE model = baseline (metrics per task in eval_config)."""
    return make_eval_config(
        cfg.resolved_task, with_baseline=cfg.train_baseline, min_value=cfg.blessing_threshold,
        max_regression=cfg.baseline_tolerance if cfg.train_baseline else None)


def checkpoint_root(cfg: PipelineConfig, component_id: str) -> str:
    """``<pipeline root>/checkpoints/<component id>``: where a component's stable checkpoint
    folders live (``components.checkpoints``), so a retried or re-run step resumes."""
    return os.path.join(cfg.resolved_pipeline_root, CHECKPOINTS_FOLDER, component_id)


def _serving_eval_config(cfg: PipelineConfig) -> tfma.EvalConfig:
    """TFMA config: NIS model = candidate, the latest blessed model = baseline.

    The change threshold (``serving_tolerance``) keeps a scheduled run from pushing a
    model worse than the one serving; on the first run nothing is resolved and TFMA
    ignores it (rubber stamp), so the value threshold alone decides.
    """
    return make_eval_config(cfg.resolved_task, with_baseline=True,
                            min_value=cfg.blessing_threshold,
                            max_regression=cfg.serving_tolerance)


def latest_blessed_model_resolver() -> tfx.dsl.Resolver:
    """The pipeline's latest model blessed by ``BlessingGate`` (TFX's LatestBlessedModelStrategy).

    The channels name their producers, so neither the SE baseline's model nor an
    Evaluator's own blessing is taken for what serves.
    """
    return tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model,
                              producer_component_id=TRAINER, output_key="model"),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing,
                                       producer_component_id=BLESSING_GATE,
                                       output_key="blessing"),
    ).with_id(LATEST_BLESSED_RESOLVER)


def _warm_start_args(cfg: PipelineConfig, resolver: tfx.dsl.Resolver) -> Dict:
    """NeuralInputSearch's ``previous_model`` when the search options ask for a warm start
    (``SearchConfig.warm_start``); 'off' wires none, so the search stays cached across
    re-runs with unchanged inputs."""
    if cfg.search_config().warm_start == "off":
        return {}
    return {"previous_model": resolver.outputs["model"]}


def _common_custom_config(cfg: PipelineConfig) -> Dict:
    """custom_config of both trainers (see trainer_module.model.trainer)."""
    config = {"dataset": cfg.load_dataset().to_dict(), "budget": int(cfg.budget),
              "train_batch_size": int(cfg.train_batch_size), "strategy": cfg.strategy,
              "max_epochs": int(cfg.max_epochs), "patience": int(cfg.patience),
              "steps_per_execution": int(cfg.steps_per_execution), **_serving_config(cfg)}
    if cfg.search_space:  # the maximum widths: the trainers cap the budget as the search does
        config["search_space"] = cfg.search_space
    return config


def _serving_config(cfg: PipelineConfig) -> Dict:
    """The retrieval ``serving_default``'s options (``trainer_module.model.serving``); none for
    ranking, so ranking trainers keep their cache and checkpoints."""
    if cfg.load_dataset().task != "retrieval":
        return {}
    config = {"serving_top_k": int(cfg.serving_top_k)}
    if cfg.serving_history_feature is not None:
        config["serving_history_feature"] = cfg.serving_history_feature
    return config


def _cluster_config(cfg: PipelineConfig, component_id: str) -> Dict:
    """The Vertex CustomJob of a step when ``cfg.cluster`` is set (``pipelines.vertex_cluster``)."""
    return vertex_cluster.custom_config(cfg.cluster, cfg.image, f"{cfg.pipeline_name}-{component_id}")


def _on_cluster(cfg: PipelineConfig, launcher: type) -> Optional[executor_spec.ExecutorClassSpec]:
    """The step's executor launches its Vertex CustomJob when ``cfg.cluster`` is set."""
    return executor_spec.ExecutorClassSpec(launcher) if cfg.cluster else None


def create_pipeline(
    cfg: PipelineConfig,
    metadata_connection_config: Optional[metadata_store_pb2.ConnectionConfig] = None,
    beam_pipeline_args: Optional[List[str]] = None,
) -> tfx.dsl.Pipeline:
    """Builds the NIS pipeline described by ``cfg`` (see the module docstring)."""
    dataset = cfg.load_dataset()
    custom_config = _common_custom_config(cfg)
    components = []

    example_gen = _example_gen(cfg)
    statistics_gen = tfx.components.StatisticsGen(
        examples=example_gen.outputs["examples"]).with_id(STATISTICS_GEN)
    if cfg.schema_path:
        schema_gen = tfx.components.ImportSchemaGen(schema_file=cfg.schema_path)
    else:
        schema_gen = tfx.components.SchemaGen(
            statistics=statistics_gen.outputs["statistics"], infer_feature_shape=False)
    schema_gen = schema_gen.with_id(SCHEMA_GEN)
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"],
        schema=schema_gen.outputs["schema"]).with_id(EXAMPLE_VALIDATOR)
    gate = AnomaliesGate(anomalies=example_validator.outputs["anomalies"],
                         statistics=statistics_gen.outputs["statistics"],
                         schema=schema_gen.outputs["schema"], label=dataset.label,
                         task=dataset.task).with_id(ANOMALIES_GATE)
    resolver = latest_blessed_model_resolver()
    components += [example_gen, statistics_gen, schema_gen, example_validator, gate, resolver]

    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=gate.outputs["validated_schema"],
        preprocessing_fn=cfg.preprocessing_fn,
        custom_config={"dataset": dataset.to_dict()}).with_id(TRANSFORM)
    vocabulary_gate = VocabularyGate(
        examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        dataset=dataset.to_json(), budget=int(cfg.budget), mode=cfg.mode,
        search_space=json.dumps(cfg.search_space) if cfg.search_space else "",
        check_baseline=bool(cfg.train_baseline),
        eval_splits=",".join(s for s in cfg.split_names if s != "train"),
        max_oov_label_share=float(cfg.max_oov_label_share)).with_id(VOCABULARY_GATE)
    search = NeuralInputSearch(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        budget=int(cfg.budget), mode=cfg.mode, search_config=cfg.search,
        train_batch_size=int(cfg.train_batch_size), strategy=cfg.strategy,
        search_space=cfg.search_space,
        custom_config={"dataset": dataset.to_dict(),
                       CHECKPOINT_ROOT_KEY: checkpoint_root(cfg, SEARCH),
                       **_cluster_config(cfg, SEARCH)},
        custom_executor_spec=_on_cluster(cfg, nis_executor.VertexExecutor),
        **_warm_start_args(cfg, resolver)).with_id(SEARCH)
    search.add_upstream_node(vocabulary_gate)
    components += [transform, vocabulary_gate, search]

    train_args = tfx.proto.TrainArgs(num_steps=int(cfg.train_steps))
    eval_args = tfx.proto.EvalArgs(num_steps=int(cfg.eval_steps))
    trainer = MesTrainer(
        run_fn=cfg.run_fn,
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=gate.outputs["validated_schema"],
        embedding_spec=search.outputs["embedding_spec"],
        train_args=train_args, eval_args=eval_args,
        custom_config={**custom_config, **_cluster_config(cfg, TRAINER),
                       CHECKPOINT_ROOT_KEY: checkpoint_root(cfg, TRAINER)},
        custom_executor_spec=_on_cluster(cfg, trainer_executor.VertexExecutor)).with_id(TRAINER)
    trainer.add_upstream_node(vocabulary_gate)
    components.append(trainer)

    baseline_model = baseline_run = None
    if cfg.train_baseline:
        baseline = MesTrainer(
            run_fn=cfg.run_fn,
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=gate.outputs["validated_schema"],
            train_args=train_args, eval_args=eval_args,
            custom_config={**custom_config, "baseline": True, "baseline_dim": cfg.baseline_dim,
                           "baseline_dims": cfg.baseline_dims,
                           **_cluster_config(cfg, BASELINE_TRAINER),
                           CHECKPOINT_ROOT_KEY: checkpoint_root(cfg, BASELINE_TRAINER)},
            custom_executor_spec=_on_cluster(cfg, trainer_executor.VertexExecutor)
        ).with_id(BASELINE_TRAINER)
        baseline.add_upstream_node(vocabulary_gate)
        components.append(baseline)
        baseline_model, baseline_run = baseline.outputs["model"], baseline.outputs["model_run"]

    evaluator = tfx.components.Evaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        baseline_model=baseline_model,
        example_splits=[_eval_split(cfg)],
        eval_config=_eval_config(cfg),
    ).with_id(EVALUATOR)
    components.append(evaluator)
    gate_inputs = {"baseline_blessing": evaluator.outputs["blessing"],
                   "evaluation": evaluator.outputs["evaluation"]}
    report_inputs = {"evaluation": evaluator.outputs["evaluation"]}
    if cfg.serving_tolerance is not None:
        serving_evaluator = tfx.components.Evaluator(
            examples=example_gen.outputs["examples"],
            model=trainer.outputs["model"],
            baseline_model=resolver.outputs["model"],
            example_splits=[_eval_split(cfg)],
            eval_config=_serving_eval_config(cfg),
        ).with_id(SERVING_EVALUATOR)
        components.append(serving_evaluator)
        gate_inputs["serving_blessing"] = serving_evaluator.outputs["blessing"]
        report_inputs["serving_evaluation"] = serving_evaluator.outputs["evaluation"]
    blessing_gate = BlessingGate(model=trainer.outputs["model"], key_metric=key_metric(dataset.task),
                                 **gate_inputs).with_id(BLESSING_GATE)
    pusher = tfx.components.Pusher(
        model=trainer.outputs["model"],
        model_blessing=blessing_gate.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(
                base_directory=cfg.resolved_serving_model_dir))).with_id(PUSHER)
    run_report = RunReport(
        embedding_spec=search.outputs["embedding_spec"],
        search_results=search.outputs["search_results"],
        model_run=trainer.outputs["model_run"], baseline_model_run=baseline_run,
        previous_model=resolver.outputs["model"], blessing=blessing_gate.outputs["blessing"],
        key_metric=key_metric(dataset.task), **report_inputs).with_id(RUN_REPORT)
    components += [blessing_gate, pusher, run_report]

    return tfx.dsl.Pipeline(
        pipeline_name=cfg.pipeline_name,
        pipeline_root=cfg.resolved_pipeline_root,
        components=components,
        enable_cache=cfg.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=beam_pipeline_args if beam_pipeline_args is not None
        else list(cfg.beam_pipeline_args),
    )
