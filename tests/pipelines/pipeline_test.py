"""Tests of create_pipeline: every component is there and the channels connect as intended."""
import ast
import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402
from tfx import v1 as tfx  # noqa: E402

from pipelines import pipeline as nis_pipeline  # noqa: E402
from pipelines.config import PipelineConfig  # noqa: E402
from pipelines.data import synthetic  # noqa: E402
from trainer_module.data.features import DatasetConfig  # noqa: E402
from trainer_module.search.config import SearchConfig  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def make_config(tmp_path, **overrides) -> PipelineConfig:
    fields = dict(pipeline_name="wiring", data_path=str(tmp_path / "data"),
                  schema_path=os.path.join(REPO, "schemas", "synthetic_ranking", "schema.pbtxt"),
                  dataset=synthetic.dataset_config("ranking").to_dict(),
                  output_dir=str(tmp_path / "out"), budget=12_345,
                  search={"warmup_steps": 3, "search_steps": 4}, train_steps=5, eval_steps=2)
    fields.update(overrides)
    return PipelineConfig(**fields)


def by_id(p: tfx.dsl.Pipeline):
    return {c.id: c for c in p.components}


def source(component, key):
    """(producer component id, output key) of an input channel."""
    channel = component.inputs[key]
    return channel.producer_component_id, channel.output_key


def test_every_component_is_named(tmp_path):
    p = nis_pipeline.create_pipeline(make_config(tmp_path))
    ids = [c.id for c in p.components]
    assert sorted(ids) == sorted(nis_pipeline.COMPONENT_IDS)
    assert ids.index("AnomaliesGate") < ids.index("Transform") < ids.index("NeuralInputSearch")
    assert p.pipeline_info.pipeline_name == "wiring"
    assert p.pipeline_info.pipeline_root == str(tmp_path / "out" / "pipeline_root" / "wiring")


def test_data_validation_and_transform_wiring(tmp_path):
    c = by_id(nis_pipeline.create_pipeline(make_config(tmp_path)))
    assert isinstance(c["ExampleGen"], tfx.components.CsvExampleGen)
    assert isinstance(c["SchemaGen"], tfx.components.ImportSchemaGen)
    assert source(c["StatisticsGen"], "examples") == ("ExampleGen", "examples")
    assert source(c["ExampleValidator"], "statistics") == ("StatisticsGen", "statistics")
    assert source(c["ExampleValidator"], "schema") == ("SchemaGen", "schema")
    assert source(c["AnomaliesGate"], "anomalies") == ("ExampleValidator", "anomalies")
    # Transform only sees a schema that passed the gate.
    assert source(c["Transform"], "schema") == ("AnomaliesGate", "validated_schema")
    assert source(c["Transform"], "examples") == ("ExampleGen", "examples")
    props = c["Transform"].exec_properties
    assert props["preprocessing_fn"] == "trainer_module.data.preprocessing.preprocessing_fn"
    dataset = DatasetConfig.from_dict(json.loads(props["custom_config"])["dataset"])
    assert dataset == synthetic.dataset_config("ranking")


def test_default_split_is_70_20_10(tmp_path):
    c = by_id(nis_pipeline.create_pipeline(make_config(tmp_path)))
    splits = json.loads(c["ExampleGen"].exec_properties["output_config"])["split_config"]["splits"]
    assert {s["name"]: s["hash_buckets"] for s in splits} == {"train": 7, "eval": 2, "test": 1}


def test_pre_split_input_and_tfrecord(tmp_path):
    cfg = make_config(tmp_path, input_format="tfrecord",
                      input_splits={"train": "train/*", "eval": "eval/*"})
    c = by_id(nis_pipeline.create_pipeline(cfg))
    assert isinstance(c["ExampleGen"], tfx.components.ImportExampleGen)
    splits = json.loads(c["ExampleGen"].exec_properties["input_config"])["splits"]
    assert [(s["name"], s["pattern"]) for s in splits] == [("train", "train/*"), ("eval", "eval/*")]
    # No test split -> the Evaluator falls back to eval.
    assert json.loads(c["Evaluator"].exec_properties["example_splits"]) == ["eval"]


def test_search_trainers_evaluator_pusher_wiring(tmp_path):
    c = by_id(nis_pipeline.create_pipeline(make_config(tmp_path)))
    nis, trainer, baseline = c["NeuralInputSearch"], c["Trainer"], c["BaselineTrainer"]
    assert source(nis, "examples") == ("Transform", "transformed_examples")
    assert source(nis, "transform_graph") == ("Transform", "transform_graph")
    assert (nis.exec_properties["budget"], nis.exec_properties["mode"]) == (12_345, "ME")
    search = SearchConfig.from_json(nis.exec_properties["search_config"])
    assert (search.task, search.warmup_steps, search.search_steps) == ("ranking", 3, 4)
    assert source(trainer, "embedding_spec") == ("NeuralInputSearch", "embedding_spec")
    assert "embedding_spec" not in baseline.inputs
    for t in (trainer, baseline):
        assert source(t, "examples") == ("Transform", "transformed_examples")
        assert source(t, "transform_graph") == ("Transform", "transform_graph")
        assert t.exec_properties["run_fn"] == "trainer_module.model.trainer.run_fn"
    assert json.loads(baseline.exec_properties["custom_config"])["baseline"] is True
    assert json.loads(trainer.exec_properties["custom_config"])["budget"] == 12_345
    # Ranking trainers get no retrieval serving options (their cache keys stay as they were).
    assert "serving_top_k" not in json.loads(trainer.exec_properties["custom_config"])
    # The Trainers' steps per compiled call: PipelineConfig's value (1 by default).
    assert json.loads(trainer.exec_properties["custom_config"])["steps_per_execution"] == 1
    set_c = by_id(nis_pipeline.create_pipeline(make_config(tmp_path, steps_per_execution=8)))
    for t in (set_c["Trainer"], set_c["BaselineTrainer"]):
        assert json.loads(t.exec_properties["custom_config"])["steps_per_execution"] == 8
    # Checkpoints of each step under <pipeline root>/checkpoints/<component id> (resume on retry).
    root = make_config(tmp_path).resolved_pipeline_root
    for component in (nis, trainer, baseline):
        config = json.loads(component.exec_properties["custom_config"])
        assert config["checkpoint_root"] == os.path.join(root, "checkpoints", component.id)
    ev = c["Evaluator"]
    assert source(ev, "model") == ("Trainer", "model")
    assert source(ev, "baseline_model") == ("BaselineTrainer", "model")
    assert source(ev, "examples") == ("ExampleGen", "examples")
    assert json.loads(ev.exec_properties["example_splits"]) == ["test"]
    assert source(c["Pusher"], "model") == ("Trainer", "model")
    assert source(c["Pusher"], "model_blessing") == ("BlessingGate", "blessing")
    dest = json.loads(c["Pusher"].exec_properties["push_destination"])
    assert dest["filesystem"]["base_directory"] == str(tmp_path / "out" / "serving_model" / "wiring")


def test_eval_config_candidate_vs_baseline_with_threshold(tmp_path):
    cfg = make_config(tmp_path, blessing_threshold=0.6, baseline_tolerance=0.02)
    eval_config = json.loads(by_id(nis_pipeline.create_pipeline(cfg))["Evaluator"]
                             .exec_properties["eval_config"])
    specs = {s["name"]: s for s in eval_config["model_specs"]}
    assert set(specs) == {"candidate", "baseline"} and specs["baseline"]["is_baseline"]
    metrics = {m["class_name"]: m for m in eval_config["metrics_specs"][0]["metrics"]}
    assert {"ExampleCount", "AUC", "Calibration"} <= set(metrics)
    threshold = metrics["AUC"]["threshold"]
    assert threshold["value_threshold"]["lower_bound"] == 0.6
    assert threshold["change_threshold"]["absolute"] == pytest.approx(-0.02, abs=1e-6)


def test_scheduled_run_compares_with_the_latest_blessed_model(tmp_path):
    c = by_id(nis_pipeline.create_pipeline(make_config(tmp_path, serving_tolerance=0.01)))
    resolver = c["LatestBlessedModelResolver"]
    assert resolver.exec_properties["resolver_class"] is (
        tfx.dsl.experimental.LatestBlessedModelStrategy)
    # Only the NIS Trainer's models and the gate's (final) blessings count as "serving".
    raw = {k: (ch.producer_component_id, ch.output_key) for k, ch in resolver.raw_inputs.items()}
    assert raw == {"model": ("Trainer", "model"), "model_blessing": ("BlessingGate", "blessing")}
    serving = c["ServingEvaluator"]
    assert source(serving, "model") == ("Trainer", "model")
    assert source(serving, "baseline_model") == ("LatestBlessedModelResolver", "model")
    auc = {m["class_name"]: m for m in json.loads(serving.exec_properties["eval_config"])
           ["metrics_specs"][0]["metrics"]}["AUC"]
    assert auc["threshold"]["change_threshold"]["absolute"] == pytest.approx(-0.01, abs=1e-6)
    assert auc["threshold"]["change_threshold"]["direction"] == "HIGHER_IS_BETTER"
    gate = c["BlessingGate"]
    assert source(gate, "baseline_blessing") == ("Evaluator", "blessing")
    assert source(gate, "serving_blessing") == ("ServingEvaluator", "blessing")
    assert source(gate, "model") == ("Trainer", "model")
    assert source(gate, "evaluation") == ("Evaluator", "evaluation")  # undefined metric: no bless
    assert gate.exec_properties["key_metric"] == "auc"
    # The resolver reads earlier runs from MLMD: no edge back from the gate (no cycle), and
    # the compiled query is restricted to the gate's blessings.
    from tfx.dsl.compiler import compiler  # pylint: disable=import-outside-toplevel
    ir = compiler.Compiler().compile(nis_pipeline.create_pipeline(make_config(tmp_path)))
    node = {n.pipeline_node.node_info.id: n.pipeline_node for n in ir.nodes}[
        "LatestBlessedModelResolver"]
    assert not node.upstream_nodes
    sources = {k for k in node.inputs.inputs if k.startswith("_")}
    assert sources == {"_Trainer.model", "_BlessingGate.blessing"}
    contexts = [q.name.field_value.string_value for q in
                node.inputs.inputs["_BlessingGate.blessing"].channels[0].context_queries]
    assert "wiring.BlessingGate" in contexts


def test_run_report_links_search_and_trainer_logs(tmp_path):
    c = by_id(nis_pipeline.create_pipeline(make_config(tmp_path)))
    report = c["RunReport"]
    assert source(report, "embedding_spec") == ("NeuralInputSearch", "embedding_spec")
    assert source(report, "search_results") == ("NeuralInputSearch", "search_results")
    assert source(report, "model_run") == ("Trainer", "model_run")
    assert source(report, "baseline_model_run") == ("BaselineTrainer", "model_run")
    assert source(report, "previous_model") == ("LatestBlessedModelResolver", "model")
    # The verdict: the three models' metrics and the gate's decision.
    assert source(report, "evaluation") == ("Evaluator", "evaluation")
    assert source(report, "serving_evaluation") == ("ServingEvaluator", "evaluation")
    assert source(report, "blessing") == ("BlessingGate", "blessing")
    assert report.exec_properties["key_metric"] == "auc"
    assert report.outputs["html_report"].type_name == "system.HTML"
    assert report.outputs["markdown_report"].type_name == "system.Markdown"


def test_warm_start_wires_the_latest_blessed_model_into_the_search(tmp_path):
    nis = by_id(nis_pipeline.create_pipeline(make_config(
        tmp_path, search={"warm_start": "auto", "warm_start_search_steps": 2})))["NeuralInputSearch"]
    assert source(nis, "previous_model") == ("LatestBlessedModelResolver", "model")
    searched = SearchConfig.from_json(nis.exec_properties["search_config"])
    assert (searched.warm_start, searched.warm_start_search_steps) == ("auto", 2)
    assert not {"warm_start", "warm_start_search_steps"} & set(nis.exec_properties)  # one parameter
    off = by_id(nis_pipeline.create_pipeline(make_config(tmp_path)))["NeuralInputSearch"]
    assert "previous_model" not in off.inputs  # cold searches stay cached across re-runs
    with pytest.raises(ValueError, match="warm_start must be one of"):
        make_config(tmp_path, search={"warm_start": "yes"})


def test_no_serving_comparison_when_tolerance_is_none(tmp_path):
    c = by_id(nis_pipeline.create_pipeline(make_config(tmp_path, serving_tolerance=None)))
    assert "ServingEvaluator" not in c
    assert "serving_blessing" not in c["BlessingGate"].inputs
    assert "serving_evaluation" not in c["RunReport"].inputs
    assert source(c["Pusher"], "model_blessing") == ("BlessingGate", "blessing")


def test_retrieval_recall_and_options(tmp_path):
    cfg = make_config(tmp_path, task="retrieval", train_baseline=False, schema_path=None,
                      dataset=synthetic.dataset_config("retrieval").to_dict())
    c = by_id(nis_pipeline.create_pipeline(cfg))
    assert "BaselineTrainer" not in c and "baseline_model" not in c["Evaluator"].inputs
    assert isinstance(c["SchemaGen"], tfx.components.SchemaGen)  # inferred schema
    eval_config = json.loads(c["Evaluator"].exec_properties["eval_config"])
    names = [json.loads(m.get("config", "{}")).get("name")
             for spec in eval_config["metrics_specs"] for m in spec["metrics"]]
    assert {"recall_at_1", "recall_at_5"} <= set(names)
    assert {s["signature_name"] for s in eval_config["model_specs"]} == {"serving_scores"}
    trainer_config = json.loads(c["Trainer"].exec_properties["custom_config"])
    assert trainer_config["serving_top_k"] == 10 and "serving_history_feature" not in trainer_config
    cfg = make_config(tmp_path, task="retrieval", train_baseline=False, schema_path=None,
                      dataset=synthetic.dataset_config("retrieval").to_dict(), serving_top_k=50,
                      serving_history_feature="")
    trainer_config = json.loads(by_id(nis_pipeline.create_pipeline(cfg))["Trainer"]
                                .exec_properties["custom_config"])
    assert (trainer_config["serving_top_k"], trainer_config["serving_history_feature"]) == (50, "")


def test_task_mismatch_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="task"):
        nis_pipeline.create_pipeline(make_config(tmp_path, task="retrieval"))
    with pytest.raises(ValueError, match="task 'retrieval' in the search options differs from "
                                         "the dataset config's task 'ranking'"):
        make_config(tmp_path, search={"task": "retrieval"})


def test_pipeline_module_knows_no_runner():
    with open(nis_pipeline.__file__, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    names |= {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    modules = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    modules |= {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    assert not names & {"LocalDagRunner", "KubeflowV2DagRunner", "orchestration"}
    assert not [m for m in modules if "runner" in m or "orchestration" in m]


def test_gates_stop_the_run_before_transform_and_before_any_trainer(tmp_path):
    c = by_id(nis_pipeline.create_pipeline(make_config(tmp_path)))
    gate = c["AnomaliesGate"]
    assert source(gate, "statistics") == ("StatisticsGen", "statistics")
    assert (gate.exec_properties["label"], gate.exec_properties["task"]) == ("clicked", "ranking")
    vocabulary = c["VocabularyGate"]
    assert source(vocabulary, "transform_graph") == ("Transform", "transform_graph")
    assert vocabulary.exec_properties["budget"] == 12_345
    assert vocabulary.exec_properties["eval_splits"] == "eval,test"
    for node in ("NeuralInputSearch", "Trainer", "BaselineTrainer"):
        assert "VocabularyGate" in {u.id for u in c[node].upstream_nodes}, node
