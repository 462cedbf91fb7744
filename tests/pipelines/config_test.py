"""Tests of PipelineConfig: validation, JSON round trip, command-line flags."""
import json

import pytest

from pipelines.config import PipelineConfig
from pipelines.data import synthetic


def test_json_round_trip_and_locations(tmp_path):
    cfg = PipelineConfig(pipeline_name="p", output_dir=str(tmp_path), budget=777,
                         input_splits={"train": "tr/*", "eval": "ev/*"},
                         search_resources={"accelerator_type": "NVIDIA_TESLA_T4"})
    again = PipelineConfig.from_json(cfg.to_json())
    assert again == cfg
    assert cfg.metadata_path == str(tmp_path / "pipeline_root" / "p" / "metadata.db")
    assert cfg.resolved_serving_model_dir == str(tmp_path / "serving_model" / "p")
    assert cfg.split_names == ["train", "eval"]
    assert PipelineConfig(pipeline_root="gs://b/r").resolved_pipeline_root == "gs://b/r"


@pytest.mark.parametrize("bad, match", [
    ({"task": "clustering"}, "task"), ({"mode": "XL"}, "mode"), ({"budget": 0}, "budget"),
    ({"input_format": "parquet"}, "input_format"), ({"split_ratios": {"train": 1}}, "split_ratios"),
    ({"train_steps": -1}, "train_steps"), ({"steps_per_execution": 0}, "steps_per_execution"),
    ({"serving_top_k": 0}, "serving_top_k"),
])
def test_invalid_values_are_named(bad, match):
    with pytest.raises(ValueError, match=match):
        PipelineConfig(**bad)


def test_unknown_json_key_is_rejected():
    with pytest.raises(ValueError, match="budgett"):
        PipelineConfig.from_dict({"budgett": 3})


def test_dataset_from_file_and_task_check(tmp_path):
    path = tmp_path / "dataset.json"
    path.write_text(synthetic.dataset_config("retrieval").to_json())
    cfg = PipelineConfig(dataset_config_path=str(path), task="retrieval")
    assert cfg.load_dataset() == synthetic.dataset_config("retrieval")
    with pytest.raises(ValueError, match="task"):
        PipelineConfig(dataset_config_path=str(path), task="ranking").load_dataset()
    with pytest.raises(ValueError, match="no dataset config"):
        PipelineConfig().load_dataset()
    with pytest.raises(ValueError, match="serving_history_feature 'user_id' is not a multi-valued "
                                         r"feature of the dataset config \(multi-valued: \['history'\]\)"):
        PipelineConfig(dataset_config_path=str(path), task="retrieval",
                       serving_history_feature="user_id").load_dataset()


@pytest.mark.parametrize("search, match", [
    ({"sede": 3}, r"unknown search option\(s\) \['sede'\]; accepted: .*seed"),
    ({"fill_budget": "yes"}, "search option 'fill_budget' must be true or false, got 'yes'"),
    ({"task": "retrieval"}, "task 'retrieval' in the search options differs from the dataset config's task 'ranking'"),
    ({"group_size": 0}, "group_size must be >= 1"),
])
def test_bad_search_options_are_named(search, match):
    dataset = {"task": "ranking", "label": "y", "features": [{"name": "a"}]}
    with pytest.raises(ValueError, match=match):
        PipelineConfig(search=search, dataset=dataset)


def test_the_task_is_declared_by_the_dataset_config(tmp_path):
    retrieval = {"task": "retrieval", "label": "item", "features": [{"name": "user"}]}
    cfg = PipelineConfig(dataset=retrieval)  # no task given: the dataset config's
    assert cfg.task is None and cfg.resolved_task == "retrieval"
    assert cfg.search_config().task == "retrieval"
    path = tmp_path / "dataset.json"
    path.write_text(json.dumps(retrieval))
    assert PipelineConfig(dataset_config_path=str(path)).search_config().task == "retrieval"
    with pytest.raises(ValueError, match="dataset config is for task 'retrieval' but the "
                                         "pipeline task is 'ranking'"):
        PipelineConfig(dataset=retrieval, task="ranking").load_dataset()


def test_old_top_level_search_keys_point_to_search():
    with pytest.raises(ValueError, match=r"\['search_steps'\] are search options now: put them "
                                         r"in \"search\""):
        PipelineConfig.from_dict({"search_steps": 600})
