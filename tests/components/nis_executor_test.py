"""NeuralInputSearch executor on tiny transformed data: outputs, resume, feasibility, helpers."""
import json
import logging
import os

import pytest
from tfx.types import standard_artifacts

from components import artifacts, checkpoints
from components.artifacts import MultiSizeEmbeddingSpec, SearchResults
from components.neural_input_search import NeuralInputSearch, executor
from components.neural_input_search.request import SearchRequest
from trainer_module.data.features import DatasetConfig, FeatureConfig
from trainer_module.search.space import SearchSpace

SEARCH_CONFIG = {"warmup_steps": 3, "search_steps": 3, "group_size": 10, "num_negatives": 8,
                 "log_every": 3, "checkpoint_every": 3, "hidden_units": [16], "controller_units": 8,
                 "search_epochs": 0}


def _props(data, **overrides):
    from tfx import types
    args = dict(budget=600, search_config=SEARCH_CONFIG, train_batch_size=16,
                custom_config={"dataset": data.dataset.to_dict()})
    args.update(overrides)
    nis = NeuralInputSearch(examples=types.Channel(type=standard_artifacts.Examples),
                            transform_graph=types.Channel(type=standard_artifacts.TransformGraph),
                            **args)
    return dict(nis.exec_properties)


def _outputs(tmp_path):
    mes, results = MultiSizeEmbeddingSpec(), SearchResults()
    mes.uri, results.uri = str(tmp_path / "mes"), str(tmp_path / "results")
    return {"embedding_spec": [mes], "search_results": [results]}


def test_executor_writes_mes_report_and_results(tiny_data, make_artifacts, tmp_path, caplog):
    # One task only: tracing the search's step functions dominates the run time.
    task = "ranking"
    data = tiny_data(task)
    examples, graph = make_artifacts(data)
    outputs = _outputs(tmp_path)
    ui_path = str(tmp_path / "ui" / "mlpipeline-ui-metadata.json")
    root = str(tmp_path / "checkpoints")
    props = _props(data, ui_metadata_path=ui_path,
                   custom_config={"dataset": data.dataset.to_dict(), "checkpoint_root": root})
    executor.Executor().Do({"examples": [examples], "transform_graph": [graph]}, outputs, props)

    mes, results = outputs["embedding_spec"][0], outputs["search_results"][0]
    spec = artifacts.read_mes(mes)
    assert set(spec.features) == {"user", "item", "genres"}
    assert spec.cost() <= 600 and spec.budget == 600 and spec.mode == "ME"
    assert (mes.total_cost, mes.budget, mes.mode) == (spec.cost(), 600, "ME")
    assert mes.num_features_kept + mes.num_features_removed == 3
    for name in ("report.md", "report.html"):
        assert os.path.getsize(os.path.join(mes.uri, name)) > 200
    history = artifacts.read_json(results, artifacts.HISTORY_FILE)
    assert [h["step"] for h in history] == [3, 6] and results.num_steps == 6
    assert results.task == task
    assert set(artifacts.read_json(results, artifacts.PROBABILITIES_FILE)) == set(spec.features)
    assert os.listdir(artifacts.logs_dir(results))
    # Checkpoints live in one folder under the root, keyed by inputs + settings, not in the outputs.
    (key,) = os.listdir(root)
    assert checkpoints.latest_step(os.path.join(root, key)) == 6
    assert not os.path.exists(artifacts.checkpoints_dir(results))
    with open(ui_path) as f:
        assert [o["type"] for o in json.load(f)["outputs"]] == ["markdown", "web-app", "tensorboard"]

    # A retry or re-run is a new execution with new output URIs: it finds the checkpoint and
    # resumes from it (no new steps, same MES).
    outputs2 = _outputs(tmp_path / "run2")
    with caplog.at_level(logging.INFO):
        executor.Executor().Do({"examples": [examples], "transform_graph": [graph]}, outputs2,
                               {**props, "ui_metadata_path": None})
    assert "NIS search: resuming from step 6 of 6" in caplog.text
    history = artifacts.read_json(outputs2["search_results"], artifacts.HISTORY_FILE)
    assert [h["step"] for h in history] == [3, 6]
    assert artifacts.read_mes(outputs2["embedding_spec"]) == spec
    assert os.listdir(root) == [key]

    # A scheduled re-run warm-starts from the previous blessed model's MES and controller.
    assert os.listdir(artifacts.controller_dir(mes))
    previous_model = standard_artifacts.Model()
    previous_model.set_string_custom_property("embedding_spec_uri", mes.uri)
    outputs3 = _outputs(tmp_path / "rerun")
    warm_props = _props(data, search_config={**SEARCH_CONFIG, "warm_start": "on",
                                             "warm_start_search_steps": 0},
                        custom_config={"dataset": data.dataset.to_dict(), "checkpoint_root": root})
    executor.Executor().Do({"examples": [examples], "transform_graph": [graph],
                            "previous_model": [previous_model]}, outputs3,
                           {**warm_props, "ui_metadata_path": None})
    rerun = artifacts.read_mes(outputs3["embedding_spec"])
    assert [h["step"] for h in artifacts.read_json(outputs3["search_results"][0],
                                                   artifacts.HISTORY_FILE)] == [3]
    assert rerun.cost() <= 600 and rerun.metadata["warm_start_cost"] <= 600
    with open(os.path.join(outputs3["embedding_spec"][0].uri, "report.md")) as f:
        assert "## Changes since the previous blessed MES" in f.read()


def test_checkpoint_dir_choice(tiny_data, make_artifacts, tmp_path):
    from trainer_module.search.config import SearchConfig
    data = tiny_data("ranking")
    examples, graph = make_artifacts(data)
    inputs = {"examples": [examples], "transform_graph": [graph]}
    outputs = _outputs(tmp_path)
    config = {"dataset": data.dataset.to_dict(), "checkpoint_root": str(tmp_path / "root")}

    def where(cfg=SearchConfig(), **custom):
        props = _props(data, custom_config={**config, **custom})
        return executor.search_checkpoint_dir(inputs, outputs, props,
                                              SearchRequest.from_exec_properties(props), cfg)

    assert os.path.dirname(where()) == str(tmp_path / "root")
    assert where(SearchConfig(seed=1)) != where()  # a resolved setting changes the key
    assert where(checkpoint_dir="/explicit") == "/explicit"
    # No root known (no launcher context, no checkpoint_root): the execution's own output URI.
    assert where(checkpoint_root=None) == artifacts.checkpoints_dir(outputs["search_results"][0])


def test_warm_start_modes():
    from trainer_module.search.config import SearchConfig
    model = standard_artifacts.Model()
    model.uri = "/models/7"
    inputs = {"previous_model": [model]}
    assert executor.warm_start(inputs, SearchConfig(warm_start="off")) is None
    on, auto = SearchConfig(warm_start="on"), SearchConfig(warm_start="auto")
    assert executor.warm_start({}, on) is None  # first run: nothing resolved
    assert executor.warm_start(inputs, auto) is None  # no MES recorded: cold
    with pytest.raises(ValueError, match="warm_start='on'.*/models/7 records no MES"):
        executor.warm_start(inputs, on)


def test_infeasible_budget_fails_before_training(tiny_data, make_artifacts, tmp_path, monkeypatch):
    data = tiny_data("ranking")
    examples, graph = make_artifacts(data)
    called = []
    monkeypatch.setattr(executor, "build_datasets", lambda *a: called.append(a))
    monkeypatch.setattr(executor.nis_search, "run_search", lambda *a, **k: called.append(a))
    with pytest.raises(ValueError, match="smaller than the cheapest non-empty configuration"):
        executor.Executor().Do({"examples": [examples], "transform_graph": [graph]},
                               _outputs(tmp_path),
                               _props(data, budget=5, search_space={"*": {"dim": 8, "num_dim_chunks": 1}}))
    assert not called


def test_missing_split_and_task_mismatch(tiny_data, make_artifacts):
    data = tiny_data("ranking")
    examples, graph = make_artifacts(data)
    inputs = {"examples": [examples], "transform_graph": [graph]}
    with pytest.raises(ValueError, match="no split 'test'"):
        executor.resolve_inputs(inputs, SearchRequest.from_exec_properties(
            _props(data, eval_split="test")))


def test_search_space_overrides_and_config_helpers():
    sizes = {"a": 100, "b": 1000}
    text = json.dumps({"*": {"num_dim_chunks": 2}, "b": {"dim": 16}})
    space = executor.build_search_space(sizes, 10_000, "SE", text)
    assert isinstance(space, SearchSpace) and space.mode == "SE"
    assert space.feature("a").dim_chunks == (16, 16) and space.feature("b").dim_chunks == (8, 8)
    with pytest.raises(ValueError, match="unknown feature"):
        executor.build_search_space(sizes, 10_000, "SE", '{"zz": {"dim": 8}}')
    with pytest.raises(ValueError, match=r"search_space\['b'\]\['dim'\] must be an integer"):
        executor.build_search_space(sizes, 10_000, "SE", '{"b": {"dim": "16"}}')
    # A budget above the full model (100 x 32 + 1000 x 16 floats) is capped there.
    assert executor.build_search_space(sizes, 10 ** 9, "SE", text).budget == 100 * 32 + 1000 * 16

    from trainer_module.search.config import SearchConfig
    dataset = DatasetConfig("ranking", "y", [FeatureConfig("a")])

    def batches(search, **props):
        return SearchRequest(dataset, search, budget=10, **props).batch_sizes

    cfg = SearchConfig(task="ranking", group_size=10, groups_per_step=3)
    assert batches(cfg, train_batch_size=16) == (16, 30)
    assert batches(cfg, train_batch_size=16, eval_batch_size=50) == (16, 50)
    with pytest.raises(ValueError, match="multiple of group_size"):
        batches(cfg, train_batch_size=16, eval_batch_size=25)
    cfg = SearchConfig(task="retrieval", group_size=10)
    assert batches(cfg, train_batch_size=16) == (16, 16)
    assert batches(cfg, train_batch_size=16, eval_batch_size=25) == (16, 25)


def test_search_config_parameter_reaches_run_search_unchanged(tiny_data, make_artifacts,
                                                               tmp_path, monkeypatch):
    from trainer_module.search.config import SearchConfig
    data = tiny_data("ranking")
    examples, graph = make_artifacts(data)
    sent = SearchConfig(**{**SEARCH_CONFIG, "hidden_units": (16,)}, seed=7, fill_budget=True,
                        final_candidates=5)
    received = []

    def run_search(space, dataset, train_ds, val_ds, config, **kwargs):
        received.append(config)
        raise RuntimeError("stop")

    monkeypatch.setattr(executor.nis_search, "run_search", run_search)
    with pytest.raises(RuntimeError, match="stop"):
        executor.Executor().Do({"examples": [examples], "transform_graph": [graph]},
                               _outputs(tmp_path), _props(data, search_config=sent))
    assert received == [sent]
    # A hand-edited parameter naming another task than the dataset config's is refused.
    props = _props(data, search_config=sent)
    props["search_config"] = props["search_config"].replace('"ranking"', '"retrieval"')
    with pytest.raises(ValueError, match="task 'retrieval' in the search options differs from "
                                         "the dataset config's task 'ranking'"):
        SearchRequest.from_exec_properties(props)


def test_search_length_scales_to_the_counted_train_split(tiny_data, make_artifacts, tmp_path,
                                                         monkeypatch):
    from trainer_module.data import tfx_io
    data = tiny_data("ranking")
    examples, graph = make_artifacts(data)
    received = []

    def run_search(space, dataset, train_ds, val_ds, config, **kwargs):
        received.append(config)
        raise RuntimeError("stop")

    monkeypatch.setattr(executor.nis_search, "run_search", run_search)
    props = _props(data, search_config={**SEARCH_CONFIG, "search_epochs": 2, "scaled_warmup_share": 0.25})
    with pytest.raises(RuntimeError, match="stop"):
        executor.Executor().Do({"examples": [examples], "transform_graph": [graph]},
                               _outputs(tmp_path), props)
    from tfx.types import artifact_utils
    train = tfx_io.count_examples([os.path.join(u, "*") for u in
                                   artifact_utils.get_split_uris([examples], "train")])
    steps = -(-2 * train // 16)                     # two passes of batch 16, rounded up
    assert steps > 6 and received[0].warmup_steps + received[0].search_steps == steps
    assert received[0].warmup_steps == round(0.25 * steps)   # scaled: the configured warm-up share
