"""The runners' command line: flags over a config file, search options in their precedence."""
import argparse
import json

from pipelines import cli as config_lib
from pipelines.config import PipelineConfig


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


def test_cli_exclude_keeps_flag_free():
    parser = argparse.ArgumentParser()
    config_lib.add_cli_args(parser, exclude=("--output-dir",))
    parser.add_argument("--output-dir", default="elsewhere")
    args = parser.parse_args(["--output-dir", "build"])
    assert config_lib.from_cli(args, exclude=("--output-dir",)).output_dir == "nis_output"
