"""Tests of PipelineConfig: validation, JSON round trip, command-line flags."""
import argparse
import json

import pytest

from pipelines import config as config_lib
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


def test_cli_flags_override_config_file(tmp_path):
    base = tmp_path / "cfg.json"
    base.write_text(PipelineConfig(budget=100, search={"search_steps": 9}).to_json())
    parser = argparse.ArgumentParser()
    config_lib.add_cli_args(parser)
    args = parser.parse_args(["--config", str(base), "--budget", "2000", "--task", "retrieval",
                              "--infer-schema", "--no-baseline", "--no-cache",
                              "--beam-arg=--direct_num_workers=2", "--batch-size", "32",
                              "--split-ratios", "train=8,eval=1,test=1",
                              "--input-splits", "train=tr/*,eval=ev/*",
                              "--steps-per-execution", "8", "--serving-top-k", "25",
                              "--serving-history-feature", ""])
    cfg = config_lib.from_cli(args)
    assert (cfg.budget, cfg.search, cfg.task, cfg.train_batch_size) == (
        2000, {"search_steps": 9}, "retrieval", 32)
    assert cfg.schema_path is None and not cfg.train_baseline and not cfg.enable_cache
    assert cfg.beam_pipeline_args == ["--direct_num_workers=2"]
    assert cfg.split_ratios == {"train": 8, "eval": 1, "test": 1}
    assert cfg.input_splits == {"train": "tr/*", "eval": "ev/*"}
    assert cfg.steps_per_execution == 8
    assert (cfg.serving_top_k, cfg.serving_history_feature) == (25, "")
    assert json.loads(cfg.to_json())["budget"] == 2000


def test_search_options_from_cli_in_documented_precedence(tmp_path):
    """config "search" < --search-config < --warmup-steps & co. < --search KEY=VALUE."""
    base = tmp_path / "cfg.json"
    base.write_text(PipelineConfig(search={"seed": 1, "warmup_steps": 1, "log_every": 1}).to_json())
    search_file = tmp_path / "search.json"
    search_file.write_text(json.dumps({"seed": 2, "warmup_steps": 2, "decision_order": "random"}))
    parser = argparse.ArgumentParser()
    config_lib.add_cli_args(parser)
    args = parser.parse_args(["--config", str(base), "--search-config", str(search_file),
                              "--warmup-steps", "3", "--search", "seed=4", "--search",
                              "fill_budget=true", "--search", "hidden_units=[8, 4]"])
    cfg = config_lib.from_cli(args)
    assert cfg.search == {"seed": 4, "warmup_steps": 3, "log_every": 1, "decision_order": "random",
                          "fill_budget": True, "hidden_units": [8, 4]}
    search = cfg.search_config()
    assert (search.seed, search.fill_budget, search.hidden_units) == (4, True, (8, 4))


@pytest.mark.parametrize("search, match", [
    ({"sede": 3}, r"unknown search option\(s\) \['sede'\]; accepted: .*seed"),
    ({"fill_budget": "yes"}, "search option 'fill_budget' must be true or false, got 'yes'"),
    ({"task": "retrieval"}, "task 'retrieval' in the search options differs from the dataset config's task 'ranking'"),
    ({"group_size": 0}, "group_size must be >= 1"),
])
def test_bad_search_options_are_named(search, match):
    with pytest.raises(ValueError, match=match):
        PipelineConfig(search=search)


def test_old_top_level_search_keys_point_to_search():
    with pytest.raises(ValueError, match=r"\['search_steps'\] are search options now: put them "
                                         r"in \"search\""):
        PipelineConfig.from_dict({"search_steps": 600})


def test_cli_exclude_keeps_flag_free():
    parser = argparse.ArgumentParser()
    config_lib.add_cli_args(parser, exclude=("--output-dir",))
    parser.add_argument("--output-dir", default="elsewhere")
    args = parser.parse_args(["--output-dir", "build"])
    assert config_lib.from_cli(args, exclude=("--output-dir",)).output_dir == "nis_output"
