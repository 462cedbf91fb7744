"""NeuralInputSearch and MesTrainer construction: channels, types, execution properties."""
import dataclasses
import json

import pytest
from tfx import types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts

from components.artifacts import MultiSizeEmbeddingSpec, SearchResults
from components.mes_trainer import MesTrainer
from components.neural_input_search import NeuralInputSearch
from trainer_module.data.features import DatasetConfig, FeatureConfig
from trainer_module.search.config import SearchConfig

DATASET = DatasetConfig(task="ranking", label="clicked", features=[FeatureConfig("item")])


def _channels():
    return (types.Channel(type=standard_artifacts.Examples),
            types.Channel(type=standard_artifacts.TransformGraph))


def test_nis_channels_and_defaults():
    examples, graph = _channels()
    nis = NeuralInputSearch(examples=examples, transform_graph=graph, budget=5000,
                            custom_config={"dataset": DATASET.to_dict()})
    assert nis.inputs["examples"] is examples and nis.inputs["transform_graph"] is graph
    assert "schema" not in nis.inputs
    assert nis.outputs["embedding_spec"].type is MultiSizeEmbeddingSpec
    assert nis.outputs["search_results"].type is SearchResults
    props = nis.exec_properties
    assert props["budget"] == 5000 and props["mode"] == "ME" and props["strategy"] == "default"
    assert SearchConfig.from_json(props["search_config"]) == SearchConfig(task="ranking")
    assert (props["train_split"], props["eval_split"]) == ("train", "eval")
    assert DatasetConfig.from_dict(json.loads(props["custom_config"])["dataset"]) == DATASET
    assert props["search_space"] is None


def test_nis_all_parameters():
    examples, graph = _channels()
    schema = types.Channel(type=standard_artifacts.Schema)
    nis = NeuralInputSearch(examples=examples, transform_graph=graph, schema=schema, budget=10,
                            mode="SE", search_config={"search_steps": 2, "seed": 3},
                            train_batch_size=8, eval_batch_size=16,
                            strategy="mirrored", search_space={"*": {"num_dim_chunks": 2}},
                            train_split="a", eval_split="b", ui_metadata_path="/tmp/ui.json",
                            custom_config={"dataset": DATASET.to_dict()})
    props = nis.exec_properties
    assert nis.inputs["schema"] is schema
    assert json.loads(props["search_space"]) == {"*": {"num_dim_chunks": 2}}
    assert (props["mode"], props["eval_batch_size"]) == ("SE", 16)
    assert SearchConfig.from_json(props["search_config"]) == SearchConfig(search_steps=2, seed=3)


@pytest.mark.parametrize("search_config", [
    SearchConfig(seed=3, fill_budget=True), {"seed": 3, "fill_budget": True},
    '{"seed": 3, "fill_budget": true, "task": "ranking"}'])
def test_nis_search_config_is_one_parameter(search_config):
    examples, graph = _channels()
    nis = NeuralInputSearch(examples=examples, transform_graph=graph, budget=10,
                            search_config=search_config,
                            custom_config={"dataset": DATASET.to_dict()})
    options = {f.name for f in dataclasses.fields(SearchConfig)}
    assert not options & set(nis.exec_properties)  # no option is mirrored as its own execution parameter
    assert nis.exec_properties["search_config"] == SearchConfig(seed=3, fill_budget=True).to_json()


@pytest.mark.parametrize("kwargs, match", [
    ({"custom_config": {}}, "dataset"),
    ({"mode": "XE"}, "mode"),
    ({"search_config": {"task": "retrieval"}},
     "task 'retrieval' in the search options differs from the dataset config's task 'ranking'"),
    ({"search_config": {"seeed": 1}}, r"unknown search option\(s\) \['seeed'\]; accepted: .*seed"),
    ({"search_config": {"seed": "1"}}, "search option 'seed' must be an integer, got '1'"),
    ({"custom_config": {"dataset": DATASET.to_dict(), "search_config": {"seed": 1}}},
     "pass the search options as the search_config argument"),
])
def test_nis_rejects_bad_arguments(kwargs, match):
    examples, graph = _channels()
    args = dict(examples=examples, transform_graph=graph, budget=10,
                custom_config={"dataset": DATASET.to_dict()})
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        NeuralInputSearch(**args)


def test_nis_type_checks_budget():
    examples, graph = _channels()
    with pytest.raises(TypeError):
        NeuralInputSearch(examples=examples, transform_graph=graph, budget="big",
                          custom_config={"dataset": DATASET.to_dict()})


def test_mes_trainer_has_trainer_spec_plus_optional_embedding_spec():
    examples, graph = _channels()
    mes = types.Channel(type=MultiSizeEmbeddingSpec)
    trainer = MesTrainer(examples=examples, transform_graph=graph, embedding_spec=mes,
                         run_fn="trainer_module.model.trainer.run_fn",
                         train_args=trainer_pb2.TrainArgs(num_steps=10),
                         custom_config={"dataset": DATASET.to_dict()})
    assert trainer.inputs["embedding_spec"] is mes
    assert trainer.outputs["model"].type is standard_artifacts.Model
    assert trainer.outputs["model_run"].type is standard_artifacts.ModelRun
    assert trainer.exec_properties["run_fn"] == "trainer_module.model.trainer.run_fn"
    assert json.loads(trainer.exec_properties["train_args"]) == {"num_steps": 10}
    baseline = MesTrainer(examples=examples, transform_graph=graph, module_file="m.py",
                          custom_config={"dataset": DATASET.to_dict(), "baseline": True})
    assert "embedding_spec" not in baseline.inputs
    with pytest.raises(ValueError, match="Exactly one"):
        MesTrainer(examples=examples, transform_graph=graph)


def test_components_compile_for_kubeflow_v2():
    from tfx.orchestration.kubeflow.v2 import compiler_utils
    for channel in (types.Channel(type=MultiSizeEmbeddingSpec), types.Channel(type=SearchResults)):
        schema = compiler_utils.build_output_artifact_spec(channel).artifact_type.instance_schema
        assert channel.type.TYPE_NAME in schema
        compiler_utils.build_input_artifact_spec(channel)
