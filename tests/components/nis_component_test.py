"""NeuralInputSearch and MesTrainer construction: channels, types, execution properties."""
import json

import pytest
from tfx import types
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts

from components.artifacts import MultiSizeEmbeddingSpec, SearchResults
from components.mes_trainer import MesTrainer
from components.neural_input_search import NeuralInputSearch
from trainer_module.features import DatasetConfig, FeatureConfig

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
    assert (props["warmup_steps"], props["search_steps"], props["group_size"]) == (200, 1200, 100)
    assert (props["train_split"], props["eval_split"]) == ("train", "eval")
    assert DatasetConfig.from_dict(json.loads(props["custom_config"])["dataset"]) == DATASET
    assert props["search_space"] is None and props["task"] is None


def test_nis_all_parameters():
    examples, graph = _channels()
    schema = types.Channel(type=standard_artifacts.Schema)
    nis = NeuralInputSearch(examples=examples, transform_graph=graph, schema=schema, budget=10,
                            mode="SE", task="ranking", warmup_steps=1, search_steps=2, group_size=4,
                            num_negatives=7, train_batch_size=8, eval_batch_size=16,
                            strategy="mirrored", search_space={"*": {"num_dim_chunks": 2}},
                            train_split="a", eval_split="b", ui_metadata_path="/tmp/ui.json",
                            custom_config={"dataset": DATASET.to_dict(),
                                           "search_config": {"seed": 3}})
    props = nis.exec_properties
    assert nis.inputs["schema"] is schema
    assert json.loads(props["search_space"]) == {"*": {"num_dim_chunks": 2}}
    assert (props["mode"], props["num_negatives"], props["eval_batch_size"]) == ("SE", 7, 16)
    assert json.loads(props["custom_config"])["search_config"] == {"seed": 3}


@pytest.mark.parametrize("kwargs, match", [
    ({"custom_config": {}}, "dataset"),
    ({"mode": "XE"}, "mode"),
    ({"task": "ctr"}, "task"),
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
                         run_fn="trainer_module.run_fn.run_fn",
                         train_args=trainer_pb2.TrainArgs(num_steps=10),
                         custom_config={"dataset": DATASET.to_dict()})
    assert trainer.inputs["embedding_spec"] is mes
    assert trainer.outputs["model"].type is standard_artifacts.Model
    assert trainer.outputs["model_run"].type is standard_artifacts.ModelRun
    assert trainer.exec_properties["run_fn"] == "trainer_module.run_fn.run_fn"
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
