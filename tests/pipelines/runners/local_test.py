"""Tests of the local runner's CLI, demo data preparation and result table (no pipeline run)."""
import json
import os
import subprocess
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402

from pipelines.runners import local as local_runner
from pipelines.ops import results  # noqa: E402
from trainer_module.spec.mes import FeatureMES, ModelSpec  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def test_help_lists_the_documented_flags():
    out = subprocess.run([sys.executable, "-m", "pipelines.runners.local", "--help"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    for flag in ("--demo", "--data-path", "--schema-path", "--dataset-config", "--task", "--mode",
                 "--budget", "--search-steps", "--train-steps", "--output-dir", "--beam-arg"):
        assert flag in out, flag


def test_print_config_resolves_flags(tmp_path, capsys):
    dataset = tmp_path / "dataset.json"
    dataset.write_text(json.dumps({"task": "retrieval", "label": "next",
                                   "features": [{"name": "item"}]}))
    rc = local_runner.main(["--print-config", "--data-path", "d", "--schema-path", "s.pbtxt",
                            "--dataset-config", str(dataset), "--task", "retrieval",
                            "--mode", "SE", "--budget", "999", "--output-dir", str(tmp_path)])
    cfg = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert (cfg["task"], cfg["mode"], cfg["budget"], cfg["schema_path"]) == (
        "retrieval", "SE", 999, "s.pbtxt")


@pytest.mark.parametrize("argv, message", [
    (["--schema-path", "s"], "--data-path"),
    (["--data-path", "d", "--dataset-config", "x.json"], "--schema-path"),
])
def test_missing_inputs_are_named(argv, message):
    with pytest.raises(SystemExit, match=message):
        local_runner.main(argv)


def test_demo_data_is_kept_when_unchanged(tmp_path):
    """A repeated --demo must not touch the CSV, so ExampleGen's fingerprint (mtime) stays."""
    cfg = local_runner.make_demo_config(str(tmp_path), num_examples=200)
    csv_file = os.path.join(cfg.data_path, os.listdir(cfg.data_path)[0])
    os.utime(csv_file, (1, 1))
    again = local_runner.make_demo_config(str(tmp_path), num_examples=200)
    assert again == cfg and os.stat(csv_file).st_mtime == 1
    local_runner.make_demo_config(str(tmp_path), num_examples=201)
    assert os.stat(csv_file).st_mtime != 1
    assert cfg.schema_path.endswith(".pbtxt") and os.path.exists(cfg.schema_path)
    assert cfg.load_dataset().task == "ranking"


def test_format_summary_table():
    spec = ModelSpec(budget=1000, mode="ME", features={"item": FeatureMES([(10, 32), (40, 8)]),
                                                       "noise": FeatureMES([])})
    summary = results.RunSummary(
        run_id="r1", states={"Trainer": "COMPLETE"}, locations={"MES": "/x/mes", "model": "/x/m"},
        spec=spec, metrics={"candidate": {"auc": 0.71}, "baseline": {"auc": 0.65}},
        blessed=True, pushed_to="/serving/1")
    text = results.format_summary(summary, metadata_path="/x/metadata.db")
    # 10x32 + 40x8 = 640 floats in tables, 8x32 = 256 in the projection of the second entry.
    assert ("Budget 1,000 floats, mode ME: chosen MES costs 896 (89.6% of budget; 640 in tables "
            "+ 256 in projections, exact accounting)") in text
    assert "10x32 + 40x8" in text and "removed" in text
    assert "0.7100" in text and "0.6500" in text and "SE baseline" in text
    assert "MLMD database   /x/metadata.db" in text and "pushed to /serving/1" in text


def test_format_summary_never_prints_nan():
    summary = results.RunSummary(
        run_id="r1", states={}, locations={},
        metrics={"candidate": {"recall_at_5": float("nan")}, "baseline": {"recall_at_5": 0.25}},
        oov_label_share=0.125)
    text = results.format_summary(summary)
    assert "nan" not in text.lower()
    assert "undefined" in text and "0.2500" in text
    assert "Labels unseen in training: 12.5% of the evaluation examples" in text


def test_format_summary_prints_an_auc_of_one_label_class_as_undefined():
    summary = results.RunSummary(
        run_id="r1", states={}, locations={},
        metrics={"candidate": {"auc": 0.0, "mean_label": 0.0, "binary_accuracy": 0.9},
                 "baseline": {"auc": 0.0, "mean_label": 0.0, "binary_accuracy": 0.8}})
    text = results.format_summary(summary)
    auc_row = next(line for line in text.splitlines() if line.strip().startswith("auc"))
    assert auc_row.split() == ["auc", "undefined", "undefined"], text
    assert "0.9000" in text


def test_format_mes_changes():
    before = ModelSpec(budget=1000, mode="ME", features={"item": FeatureMES([(10, 32)]),
                                                         "user": FeatureMES([(5, 8)])})
    after = ModelSpec(budget=1000, mode="ME", features={"item": FeatureMES([(12, 32)]),
                                                        "user": FeatureMES([(5, 8)])})
    text = results.format_mes_changes(results.MesChanges("r2", "r1", before, after))
    assert text.splitlines()[0] == ("Changes since run r1: 1 of 2 feature(s) changed (item); "
                                    "total cost 360 -> 424 (+64)")
    assert "10 -> 12 (+2)" in text and "320 -> 384 (+64)" in text
    assert "user" not in text.split("\n", 1)[1]  # unchanged features are not listed
    assert "first MES" in results.format_mes_changes(None)


def test_quiet_output_shows_progress_of_long_steps(capsys):
    import logging  # pylint: disable=import-outside-toplevel
    progress_filter = local_runner.ProgressFilter(start=0.0)

    def record(message, level=logging.INFO):
        return logging.LogRecord("absl", level, __file__, 1, message, (), None)

    assert not progress_filter.filter(record("Component Trainer is running."))
    assert not progress_filter.filter(record(
        "Progress: NeuralInputSearch step 300/1200 (25%), search, 2,560 examples/s, ETA 1m30s"))
    assert not progress_filter.filter(record("NIS step 300 [search] loss=0.5"))
    assert progress_filter.filter(record("boom", logging.ERROR))
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 2 and out[0].endswith("Component Trainer is running.")
    assert out[1].endswith("  NeuralInputSearch step 300/1200 (25%), search, 2,560 examples/s, "
                           "ETA 1m30s")


def test_sigterm_during_a_run_fails_the_step_and_exits_143_with_one_line(tmp_path, monkeypatch,
                                                                         capsys):
    import signal
    import time

    def preempted_run(cfg):  # a step still running when the preemption notice comes
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)
        raise AssertionError("SIGTERM did not stop the run")
    monkeypatch.setattr(local_runner, "run", preempted_run)
    rc = local_runner.main(["--demo", "--output-dir", str(tmp_path)])
    err = capsys.readouterr().err
    assert rc == 143
    assert "stopped by SIGTERM" in err and "run the same command again to resume" in err
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
