"""Tests of the Kubeflow V2 / Vertex compile: JSON written, every component, the project image.

The pipeline root is local: with gs:// the compiler may try to upload packages.
"""
import dataclasses
import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402
import yaml  # noqa: E402

from pipelines.runners import kubeflow_v2 as kubeflow_v2_runner  # noqa: E402
from pipelines import pipeline as nis_pipeline  # noqa: E402
from trainer_module.search.config import SearchConfig  # noqa: E402

IMAGE = "us-docker.pkg.dev/test-project/nis/nis-tfx:test"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("kfp")
    out = tmp / "build"
    rc = kubeflow_v2_runner.main([
        "--output-dir", str(out), "--root", str(tmp / "root"), "--image", IMAGE,
        "--pipeline-name", "nis-kfp-test", "--budget", "4321",
        "--search-gpu", "NVIDIA_TESLA_T4:2", "--search-memory", "30",
        "--trainer-gpu", "NVIDIA_L4", "--trainer-cpu", "8",
        "--search-steps", "77", "--search", "seed=7", "--search", "fill_budget=true"])
    assert rc == 0
    path = out / "nis-kfp-test.json"
    assert path.exists()
    with open(path, encoding="utf-8") as f:
        return json.load(f)


RESOLVER_TASKS = {f"{nis_pipeline.LATEST_BLESSED_RESOLVER}-model-blessing-resolver",
                  f"{nis_pipeline.LATEST_BLESSED_RESOLVER}-model-resolver"}
CONTAINER_IDS = set(nis_pipeline.COMPONENT_IDS) - {nis_pipeline.LATEST_BLESSED_RESOLVER}


def test_every_component_is_a_task(compiled):
    tasks = compiled["pipelineSpec"]["root"]["dag"]["tasks"]
    assert set(tasks) == CONTAINER_IDS | RESOLVER_TASKS
    assert compiled["runtimeConfig"]["gcsOutputDirectory"].endswith("root/pipeline_root/nis-kfp-test")


def test_every_executor_uses_the_project_image(compiled):
    executors = compiled["pipelineSpec"]["deploymentSpec"]["executors"]
    images = {name: e["container"]["image"] for name, e in executors.items() if "container" in e}
    assert set(images) == {f"{c}_executor" for c in CONTAINER_IDS}
    assert set(images.values()) == {IMAGE}
    args = executors["NeuralInputSearch_executor"]["container"]["args"]
    assert args[args.index("--executor_class_path") + 1] == \
        "components.neural_input_search.executor.Executor"


def test_accelerators_on_search_and_trainers_only(compiled):
    executors = compiled["pipelineSpec"]["deploymentSpec"]["executors"]
    resources = {n: e["container"].get("resources") for n, e in executors.items()
                 if "container" in e}
    assert resources["NeuralInputSearch_executor"]["accelerator"] == {
        "type": "NVIDIA_TESLA_T4", "count": "2"}
    assert resources["NeuralInputSearch_executor"]["memoryLimit"] == 30.0
    for trainer in ("Trainer_executor", "BaselineTrainer_executor"):
        assert resources[trainer]["accelerator"] == {"type": "NVIDIA_L4", "count": "1"}
        assert resources[trainer]["cpuLimit"] == 8.0
    assert resources["Transform_executor"] is None


def test_exec_properties_reach_the_spec(compiled):
    params = compiled["pipelineSpec"]["root"]["dag"]["tasks"]["NeuralInputSearch"]["inputs"]
    budget = params["parameters"]["budget"]["runtimeValue"]["constantValue"]
    assert int(budget.get("intValue", budget.get("numberValue", 0))) == 4321
    assert params["artifacts"]["transform_graph"]["taskOutputArtifact"]["producerTask"] == "Transform"


def test_search_options_reach_the_one_search_parameter(compiled):
    params = compiled["pipelineSpec"]["root"]["dag"]["tasks"]["NeuralInputSearch"]["inputs"]
    value = params["parameters"]["search_config"]["runtimeValue"]["constantValue"]
    search = SearchConfig.from_json(value["stringValue"])
    assert search == SearchConfig(task="ranking", search_steps=77, seed=7, fill_budget=True)
    options = {f.name for f in dataclasses.fields(SearchConfig)}
    assert not options & set(params["parameters"])  # no option mirrored as its own parameter


def test_serving_comparison_reads_only_the_gates_blessings(compiled):
    tasks = compiled["pipelineSpec"]["root"]["dag"]["tasks"]
    baseline = tasks["ServingEvaluator"]["inputs"]["artifacts"]["baseline_model"]
    assert baseline["taskOutputArtifact"]["producerTask"] in RESOLVER_TASKS
    assert (tasks["Pusher"]["inputs"]["artifacts"]["model_blessing"]["taskOutputArtifact"]
            ["producerTask"] == "BlessingGate")
    executors = compiled["pipelineSpec"]["deploymentSpec"]["executors"]
    filters = [q["filter"] for e in executors.values()
               for q in e.get("resolver", {}).get("outputArtifactQueries", {}).values()]
    blessing = [f for f in filters if "tfx.ModelBlessing" in f]
    assert len(blessing) == 1 and "metadata.nis_final_blessing.number_value=1" in blessing[0]


def test_run_report_is_a_rendered_ui_artifact(compiled):
    """KFP v2 / Vertex render system.HTML and system.Markdown outputs on the run page."""
    component = compiled["pipelineSpec"]["components"]["RunReport"]
    outputs = component["outputDefinitions"]["artifacts"]
    titles = {k: v["artifactType"].get("schemaTitle") or
              yaml.safe_load(v["artifactType"]["instanceSchema"])["title"]
              for k, v in outputs.items()}
    assert titles == {"html_report": "system.HTML", "markdown_report": "system.Markdown"}
    inputs = compiled["pipelineSpec"]["root"]["dag"]["tasks"]["RunReport"]["inputs"]["artifacts"]
    producers = {k: (v["taskOutputArtifact"]["producerTask"],
                     v["taskOutputArtifact"]["outputArtifactKey"]) for k, v in inputs.items()}
    assert producers["search_results"] == ("NeuralInputSearch", "search_results")
    assert producers["model_run"] == ("Trainer", "model_run")
    assert producers["baseline_model_run"] == ("BaselineTrainer", "model_run")
    # The runtime imports a custom type by its title as a <module>.<Class> path.
    import system  # pylint: disable=import-outside-toplevel
    assert system.HTML.TYPE_NAME == "system.HTML" and system.Markdown.TYPE_NAME == "system.Markdown"


def test_dataflow_flags():
    args = kubeflow_v2_runner.dataflow_beam_args("proj", "europe-west4", "gs://b/nis")
    assert "--runner=DataflowRunner" in args and "--temp_location=gs://b/nis/beam_tmp" in args
    assert any(a.startswith("--setup_file=") for a in args)


def test_unknown_resource_key_is_rejected():
    with pytest.raises(ValueError, match="gpu"):
        kubeflow_v2_runner.resource_spec({"gpu": 1})


def test_retrieval_defaults_and_own_dataset_config(tmp_path):
    dataset = tmp_path / "dataset.json"
    dataset.write_text('{"task": "retrieval", "label": "next", "features": [{"name": "item"}]}')
    parser = kubeflow_v2_runner._parser()  # pylint: disable=protected-access
    cfg = kubeflow_v2_runner.resolve(parser.parse_args(["--task", "retrieval"]))
    assert cfg.schema_path.endswith("schemas/synthetic_retrieval/schema.pbtxt")
    assert cfg.load_dataset().task == "retrieval"
    cfg = kubeflow_v2_runner.resolve(parser.parse_args(
        ["--task", "retrieval", "--dataset-config", str(dataset), "--root", "gs://b/r"]))
    assert cfg.load_dataset().names == ["item"] and cfg.data_path == "gs://b/r/data"


CLUSTER = {"project": "test-project", "region": "europe-west4",
           "chief": {"machine_type": "n1-highmem-8"},
           "workers": {"count": 3, "machine_type": "n1-standard-16",
                       "accelerator_type": "NVIDIA_TESLA_T4", "accelerator_count": 2},
           "ps": {"count": 2, "machine_type": "n1-highmem-32"}}


def test_cluster_runs_search_and_trainers_as_vertex_jobs_with_its_pools(tmp_path):
    cfg = kubeflow_v2_runner.default_config("ranking")
    cfg = dataclasses.replace(cfg, output_dir=str(tmp_path / "root"), image=IMAGE,
                              pipeline_name="nis-cluster", strategy="parameter_server",
                              cluster=CLUSTER)
    with open(kubeflow_v2_runner.compile_pipeline(cfg, str(tmp_path / "build")),
              encoding="utf-8") as f:
        compiled = json.load(f)
    executors = compiled["pipelineSpec"]["deploymentSpec"]["executors"]
    tasks = compiled["pipelineSpec"]["root"]["dag"]["tasks"]
    launchers = {"NeuralInputSearch": "components.neural_input_search.executor.VertexExecutor",
                 "Trainer": "components.mes_trainer.executor.VertexExecutor",
                 "BaselineTrainer": "components.mes_trainer.executor.VertexExecutor"}
    for step, launcher in launchers.items():
        args = executors[f"{step}_executor"]["container"]["args"]
        assert args[args.index("--executor_class_path") + 1] == launcher
        config = json.loads(tasks[step]["inputs"]["parameters"]["custom_config"]["runtimeValue"]
                            ["constantValue"]["stringValue"])
        assert config["ai_platform_enable_vertex"] is True
        assert config["ai_platform_vertex_region"] == "europe-west4"
        if step != "NeuralInputSearch":
            assert config["strategy"] == "parameter_server"
        job = config["ai_platform_training_args"]
        assert job["project"] == "test-project"
        chief, workers, ps = job["job_spec"]["worker_pool_specs"]
        assert chief["replica_count"] == 1
        assert chief["machine_spec"] == {"machine_type": "n1-highmem-8"}
        assert workers["replica_count"] == 3 and workers["machine_spec"] == {
            "machine_type": "n1-standard-16", "accelerator_type": "NVIDIA_TESLA_T4",
            "accelerator_count": 2}
        assert ps["replica_count"] == 2 and ps["machine_spec"] == {"machine_type": "n1-highmem-32"}
        assert {p["container_spec"]["image_uri"] for p in (chief, workers, ps)} == {IMAGE}
    search_strategy = tasks["NeuralInputSearch"]["inputs"]["parameters"]["strategy"]
    assert search_strategy["runtimeValue"]["constantValue"]["stringValue"] == "parameter_server"
    # Steps without a cluster keep running in their own container.
    args = executors["Transform_executor"]["container"]["args"]
    assert "VertexExecutor" not in args[args.index("--executor_class_path") + 1]


def test_cluster_and_strategy_must_agree():
    with pytest.raises(ValueError, match="runs strategy 'parameter_server'; the pipeline's "
                                         "strategy is 'default'"):
        dataclasses.replace(kubeflow_v2_runner.default_config(), cluster=CLUSTER)
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['gpus'\]"):
        dataclasses.replace(kubeflow_v2_runner.default_config(), strategy="parameter_server",
                            cluster={**CLUSTER, "ps": {"gpus": 1}})
