"""End to end: LocalDagRunner on tiny synthetic data, then MLMD lineage, cache and failure checks.

One pipeline root and MLMD are shared by the tests, which run in file order:
full run through the ``nis-pipeline`` command line in a child process, without ``--verbose``
(module fixture; its terminal output is checked too) -> identical second run,
as a scheduled re-run (cache up to the trainers; compared with the first run's blessed model)
-> run on a bad CSV (stops at the gate, earlier artifacts intact) -> run with an unreachable
blessing threshold (not pushed).

The input is pre-split (``--input-splits``: train / eval / test folders) and the baseline has a
fixed width (``baseline_dim`` from a ``--config`` file), the way a benchmark split and the
benchmark's grid pick go through the pipeline (once ``benchmarks/pipeline_check.py``, whose
ML-100K comparison with the benchmark's rows is in benchmarks/findings.md).
"""
import csv
import dataclasses
import json
import os
import re
import subprocess
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402

from components.artifacts import HISTORY_FILE, read_json, read_mes  # noqa: E402
from pipelines.runners import local as local_runner
from pipelines.ops import results  # noqa: E402
from pipelines import pipeline as P  # noqa: E402
from pipelines.config import PipelineConfig  # noqa: E402
from pipelines.data import synthetic  # noqa: E402

pytestmark = pytest.mark.e2e
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BUDGET = 5_000
BASELINE_DIM = 4  # not the default uniform width (2 here): it must come from the config file
SPLITS = {"train": range(7), "eval": range(7, 9), "test": range(9, 10)}  # row index mod 10
SEARCH_SEED = 5  # not the default: the search must receive it from the command line
TIMINGS = {}
# Re-executed on a re-run with unchanged inputs: the latest blessed model now resolves.
RESOLVER_DEPENDENT = {P.SERVING_EVALUATOR, P.BLESSING_GATE, P.PUSHER, P.RUN_REPORT}


def write_splits(csv_path: str, out_dir: str) -> dict:
    """The generated CSV as pre-split ``out_dir/{train,eval,test}/data.csv``; rows per split."""
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    counts = {}
    for split, buckets in SPLITS.items():
        os.makedirs(os.path.join(out_dir, split))
        kept = [r for i, r in enumerate(rows) if i % 10 in buckets]
        with open(os.path.join(out_dir, split, synthetic.CSV_NAME), "w", newline="",
                  encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(kept)
        counts[split] = len(kept)
    return counts


@pytest.fixture(scope="module")
def split_rows(tmp_path_factory):
    """Pre-split input of the shared run: its data folder and the rows of each split."""
    root = tmp_path_factory.mktemp("e2e_data")
    csv_path, schema_path, dataset = synthetic.generate("ranking", 1500, 0, str(root / "gen"))
    dataset_json = root / "dataset.json"
    dataset_json.write_text(dataset.to_json())
    data_dir = str(root / "split")
    return data_dir, schema_path, str(dataset_json), write_splits(csv_path, data_dir)


@pytest.fixture(scope="module")
def argv(tmp_path_factory, split_rows):
    root = tmp_path_factory.mktemp("e2e")
    data_dir, schema_path, dataset_json, _ = split_rows
    config_json = root / "config.json"
    config_json.write_text(json.dumps({"baseline_dim": BASELINE_DIM}))
    return ["--config", str(config_json), "--pipeline-name", "e2e", "--data-path", data_dir,
            "--input-splits", ",".join(f"{s}={s}/*" for s in SPLITS),
            "--schema-path", schema_path, "--dataset-config", dataset_json,
            "--output-dir", str(root / "out"), "--budget", str(BUDGET), "--batch-size", "32",
            "--search", "warmup_steps=10", "--search", "search_steps=20", "--group-size", "16",
            "--search", f"seed={SEARCH_SEED}", "--search", "log_every=2",
            "--train-steps", "20", "--eval-steps", "2",
            "--blessing-threshold", "0.0"]


@pytest.fixture(scope="module")
def cfg(argv) -> PipelineConfig:
    return local_runner._resolve(local_runner._parser().parse_args(argv))  # pylint: disable=protected-access


@pytest.fixture(scope="module")
def console(argv):
    """The first run: ``nis-pipeline`` in a fresh process (TensorFlow imported there), quiet."""
    start = time.time()
    done = subprocess.run([sys.executable, "-m", "pipelines.runners.local", *argv], cwd=REPO,
                          capture_output=True, text=True, check=False)
    TIMINGS["first run"] = time.time() - start
    assert done.returncode == 0, (done.stdout[-3000:], done.stderr[-3000:])
    return done.stdout, done.stderr


@pytest.fixture(scope="module")
def first_run(cfg, console):
    store = results.connect(cfg.metadata_path)
    run = results.latest_run(store, cfg.pipeline_name)
    return store, run, results.run_outputs(store, run)


def test_default_output_is_the_suites_own_lines(cfg, console):
    out, err = console
    # None of TensorFlow's start-up lines, third-party warnings or Keras' own epoch lines ...
    for noise in ("Unable to register", "external/local_xla", "FutureWarning", "Warning:", "/step",
                  "oneDNN"):
        assert noise not in out + err, (noise, out + err)
    assert err == "", err
    # ... but a line per component and per trainer epoch (with its ETA), and the summary.
    assert "Component Trainer is running." in out and "Component Pusher is finished." in out
    assert re.search(r"\] +Trainer epoch 1/\d+ .*ETA", out), out
    assert re.search(r"\] +NeuralInputSearch step \d+/\d+ .*ETA", out), out
    assert "Pipeline finished in" in out and f"Budget {BUDGET:,} floats" in out
    # What is hidden is in the run's log file.
    path = re.search(r"log \(TensorFlow, TFX, Beam; --verbose prints it here\): (\S+)", out).group(1)
    assert path.startswith(os.path.join(cfg.output_dir, "logs", cfg.pipeline_name))
    with open(path, encoding="utf-8") as f:
        log = f.read()
    assert re.search(r"\d+/\d+ - .*/step", log)  # Keras' epoch line, logged instead of printed
    assert "Component Trainer is running." in log and "Progress: Trainer epoch 1/" in log


@pytest.fixture(scope="module")
def second_run(cfg, first_run):
    store = first_run[0]
    artifacts_before = len(store.get_artifacts())
    start = time.time()
    run_id = local_runner.run(cfg)
    TIMINGS["cached run"] = time.time() - start
    run = results.latest_run(store, cfg.pipeline_name)
    assert run_id == run.name  # run() returns the id of the run it started
    return run, artifacts_before


def first_outputs_run(store, cfg):
    return results.runs(store, cfg.pipeline_name)[0].name


def _inputs(store, execution_id):
    arts = results.execution_artifacts(store, execution_id, results.Event.INPUT)
    return {key: [a.id for a in items] for key, items in arts.items()}


def _executed(states):
    """States of the components (the resolver is not one in every TFX version)."""
    return {n: s for n, s in states.items() if n != P.LATEST_BLESSED_RESOLVER}


def test_every_component_ran(first_run):
    store, run, outputs = first_run
    states = _executed({n: e.last_known_state
                        for n, e in results.run_executions(store, run).items()})
    assert set(states) == set(P.COMPONENT_IDS) - {P.LATEST_BLESSED_RESOLVER}
    assert set(states.values()) == {results.Execution.COMPLETE}, states
    mes = read_mes(outputs[P.SEARCH]["embedding_spec"].uri)
    assert mes.budget == BUDGET and mes.cost() <= BUDGET


def test_pre_split_input_is_kept_and_the_evaluator_reads_its_test_split(first_run, split_rows):
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    _, _, outputs = first_run
    counts = split_rows[3]
    examples = outputs[P.EXAMPLE_GEN]["examples"].uri
    assert sorted(os.listdir(examples)) == sorted(f"Split-{s}" for s in SPLITS)
    for split, rows in counts.items():  # every row in the split of its folder, none rehashed
        files = tf.io.gfile.glob(os.path.join(examples, f"Split-{split}", "*"))
        assert sum(1 for _ in tf.data.TFRecordDataset(files, compression_type="GZIP")) == rows
    metrics = results.read_metrics(outputs[P.EVALUATOR]["evaluation"].uri)
    assert metrics["candidate"]["example_count"] == counts["test"]


def test_baseline_has_the_configured_width(cfg, first_run):
    assert cfg.baseline_dim == BASELINE_DIM and cfg.input_splits
    with open(os.path.join(first_run[2][P.BASELINE_TRAINER]["model_run"].uri,
                           "mes_summary.json")) as f:
        baseline = json.load(f)
    widths = {d for entries in baseline["mes"].values() for _, d in entries}
    assert baseline["baseline"] == "uniform_se" and widths == {BASELINE_DIM}
    assert baseline["embedding_cost"] <= BUDGET


def test_cli_search_options_reach_the_search(first_run):
    _, _, outputs = first_run
    searched = read_mes(outputs[P.SEARCH]["embedding_spec"].uri).metadata["search_config"]
    assert (searched["seed"], searched["search_steps"], searched["group_size"]) == (SEARCH_SEED, 20, 16)


def test_lineage_search_to_model_to_evaluation(first_run):
    store, _, outputs = first_run
    mes = outputs[P.SEARCH]["embedding_spec"]
    # The MES was produced by NeuralInputSearch from the Transform outputs ...
    node, search_execution = results.producer(store, mes.id)
    assert node == P.SEARCH
    assert _inputs(store, search_execution.id) == {
        "examples": [outputs[P.TRANSFORM]["transformed_examples"].id],
        "transform_graph": [outputs[P.TRANSFORM]["transform_graph"].id]}
    # ... the Trainer consumed it (the baseline did not; RunReport renders it) ...
    model = outputs[P.TRAINER]["model"]
    node, trainer_execution = results.producer(store, model.id)
    assert node == P.TRAINER
    assert _inputs(store, trainer_execution.id)["embedding_spec"] == [mes.id]
    assert results.consumers(store, mes.id) == [P.RUN_REPORT, P.TRAINER]
    # ... and the Evaluator evaluated that model against the baseline.
    evaluation = outputs[P.EVALUATOR]["evaluation"]
    node, eval_execution = results.producer(store, evaluation.id)
    eval_inputs = _inputs(store, eval_execution.id)
    assert node == P.EVALUATOR and eval_inputs["model"] == [model.id]
    assert eval_inputs["baseline_model"] == [outputs[P.BASELINE_TRAINER]["model"].id]
    # The pushed model traces back to the search: Pusher <- Trainer <- NeuralInputSearch.
    pushed = outputs[P.PUSHER]["pushed_model"]
    _, push_execution = results.producer(store, pushed.id)
    assert _inputs(store, push_execution.id)["model"] == [model.id]


def test_trainers_record_the_recipe_in_the_model_run(first_run):
    outputs = first_run[2]
    for node in (P.TRAINER, P.BASELINE_TRAINER):
        with open(os.path.join(outputs[node]["model_run"].uri, "training.json")) as f:
            record = json.load(f)
        # train_steps=20 ends training inside the first epoch, which is still validated and kept.
        assert record["steps"] == 20 and record["curve"] and record["best_epoch"] == 1, node
        assert record["monitor"] == "val_auc"


def test_report_lists_locations_and_result_table(cfg, first_run):
    text = local_runner.report(cfg)
    for label in ("MES", "model", "evaluation", "MLMD database", cfg.metadata_path,
                  f"Budget {BUDGET:,} floats", "NIS (candidate)", "SE baseline", "auc",
                  "example_count", "Blessed: yes", "pushed to", "run page"):
        assert label in text, label
    summary = results.summarize(first_run[0], cfg.pipeline_name)
    with open(summary.locations["run page"], encoding="utf-8") as f:  # the HTML page itself
        assert "<html" in f.read(2000).lower()
    assert set(summary.metrics) == {"candidate", "baseline"}
    assert 0.0 <= summary.metrics["candidate"]["auc"] <= 1.0
    assert os.path.isdir(summary.pushed_to)


def test_run_report_is_rendered_with_log_links(first_run):
    _, _, outputs = first_run
    html_report = outputs[P.RUN_REPORT]["html_report"]
    with open(html_report.uri, encoding="utf-8") as f:  # system.HTML: the URI is the page
        html = f.read()
    logs = os.path.join(outputs[P.SEARCH]["search_results"].uri, "logs")
    assert "<h2>TensorBoard logs</h2>" in html and f'href="{logs}"' in html
    assert f'href="{outputs[P.TRAINER]["model_run"].uri}"' in html
    assert os.listdir(logs)  # the search wrote TensorBoard events there
    assert "Changes since" not in html  # first run: nothing blessed before
    with open(outputs[P.RUN_REPORT]["markdown_report"].uri, encoding="utf-8") as f:
        markdown = f.read()
    assert markdown.startswith("# Neural Input Search run: verdict")
    # The verdict opens the page: the blessing, the three models' metrics, the pictures.
    assert html.index('<section id="verdict">') < html.index("Multi-size Embedding Spec</h1>")
    assert "<b>Blessed</b>: every comparison blessed it" in html
    auc = _metric_row(markdown, "auc (key)")
    assert auc[1] not in ("undefined", "n/a") and 0.0 <= float(auc[1]) <= 1.0  # candidate
    assert auc[2] not in ("undefined", "n/a")  # the same-run SE baseline
    assert auc[4] == "no serving model yet"  # first run
    assert f"width {BASELINE_DIM} for every kept feature" in markdown
    assert html.count('<img class="plot"') == 3 and markdown.count("](data:image/png;base64,") == 3
    # The curves' rows (log_every=2 of 30 steps), each with the controller's entropy.
    history = read_json(outputs[P.SEARCH]["search_results"].uri, HISTORY_FILE)
    assert len(history) == 15 and all(r["controller_entropy"] > 0 for r in history)


def _metric_row(markdown: str, metric: str) -> list:
    """The cells of ``metric``'s row in the verdict's metric table."""
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {metric} |"))
    return [c.strip() for c in line.strip("|").split("|")]


def _run_page(outputs) -> str:
    with open(outputs[P.RUN_REPORT]["markdown_report"].uri, encoding="utf-8") as f:
        return f.read()


def test_second_run_compares_with_the_first_runs_blessed_model(first_run, second_run):
    store, first, first_outputs = first_run
    run, artifacts_before = second_run
    assert run.id != first.id
    states = _executed({n: e.last_known_state
                        for n, e in results.run_executions(store, run).items()})
    assert set(states) == set(P.COMPONENT_IDS) - {P.LATEST_BLESSED_RESOLVER}
    cached = {n for n, s in states.items() if s == results.Execution.CACHED}
    assert cached == set(states) - RESOLVER_DEPENDENT, states
    assert {states[n] for n in RESOLVER_DEPENDENT} == {results.Execution.COMPLETE}
    again = results.run_outputs(store, run)
    assert again[P.SEARCH]["embedding_spec"].id == first_outputs[P.SEARCH]["embedding_spec"].id
    # ServingEvaluator compared the candidate with the first run's blessed (pushed) model ...
    serving_execution = results.run_executions(store, run)[P.SERVING_EVALUATOR]
    first_model = first_outputs[P.TRAINER]["model"].id
    # The cached Trainer hands the first run's model over as the candidate too, so candidate and
    # resolved baseline are one artifact: MLMD keeps one input event for it, under either key.
    inputs = _inputs(store, serving_execution.id)
    assert inputs.get("baseline_model", inputs.get("model")) == [first_model], inputs
    assert "baseline" in results.read_metrics(again[P.SERVING_EVALUATOR]["evaluation"].uri)
    # ... and the gate blessed it: the same model is no worse than itself.
    summary = results.summarize(store, "e2e")
    assert summary.blessed is True
    with open(again[P.RUN_REPORT]["html_report"].uri, encoding="utf-8") as f:
        assert "feature(s) changed" in f.read()
    served = _metric_row(_run_page(again), "auc (key)")[4]  # the first run's model serves now
    assert 0.0 <= float(served) <= 1.0, served
    assert len(store.get_artifacts()) > artifacts_before


def _write_bad_csv(src_dir: str, out_dir: str) -> None:
    """Drops the 'region' column and turns the integer label into strings."""
    os.makedirs(out_dir)
    with open(os.path.join(src_dir, synthetic.CSV_NAME), newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    fields = [k for k in rows[0] if k != "region"]
    with open(os.path.join(out_dir, "bad.csv"), "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(dict(row, clicked="yes" if row["clicked"] == "1" else "no"))


def test_bad_input_stops_at_validation_and_keeps_earlier_runs(cfg, first_run, second_run,
                                                             tmp_path, capsys):
    store, first, first_outputs = first_run
    bad_dir = str(tmp_path / "bad")
    _write_bad_csv(os.path.join(cfg.data_path, "train"), bad_dir)
    dataset_json = tmp_path / "dataset.json"
    dataset_json.write_text(cfg.load_dataset().to_json())
    start = time.time()
    rc = local_runner.main([
        "--verbose", "--pipeline-name", cfg.pipeline_name, "--output-dir", cfg.output_dir,
        "--data-path", bad_dir, "--schema-path", cfg.schema_path,
        "--dataset-config", str(dataset_json), "--task", "ranking", "--budget", str(BUDGET),
        "--warmup-steps", "10", "--search-steps", "20", "--train-steps", "20"])
    TIMINGS["failed run"] = time.time() - start
    err = capsys.readouterr().err
    assert rc == 1
    assert "DataAnomaliesError" in err
    assert "train/region: Column dropped" in err, err
    assert "train/clicked:" in err and "Expected data of type: INT but got STRING" in err, err

    run = results.latest_run(store, cfg.pipeline_name)
    executions = results.run_executions(store, run)
    assert executions[P.ANOMALIES_GATE].last_known_state == results.Execution.FAILED
    assert not set(executions) & {P.TRANSFORM, P.SEARCH, P.TRAINER, P.EVALUATOR, P.PUSHER}
    assert len(results.runs(store, cfg.pipeline_name)) == 3
    # Nothing of the earlier runs is lost: artifacts LIVE in MLMD and on disk, MES readable.
    for outputs in first_outputs.values():
        for artifact in store.get_artifacts_by_id([a.id for a in outputs.values()]):
            assert artifact.state == results.Artifact.LIVE
            assert os.path.exists(artifact.uri), artifact.uri
    assert read_mes(first_outputs[P.SEARCH]["embedding_spec"].uri).cost() <= BUDGET


def test_unblessed_model_is_not_pushed(cfg, first_run, second_run):
    """Raising the blessing threshold re-runs the Evaluator, the gate and Pusher; no push."""
    store, _, first_outputs = first_run
    pushed_before = os.listdir(cfg.resolved_serving_model_dir)
    # AUC can never reach 1.01; no serving comparison (tested above): one TFMA run, not two.
    strict = dataclasses.replace(cfg, blessing_threshold=1.01, serving_tolerance=None)
    start = time.time()
    local_runner.run(strict)
    TIMINGS["unblessed run"] = time.time() - start
    run = results.latest_run(store, cfg.pipeline_name)
    states = {n: e.last_known_state for n, e in results.run_executions(store, run).items()}
    assert states[P.TRAINER] == results.Execution.CACHED
    assert states[P.EVALUATOR] == states[P.PUSHER] == results.Execution.COMPLETE
    summary = results.summarize(store, cfg.pipeline_name)
    assert summary.blessed is False and summary.pushed_to is None
    # A run's own report stays its own after a later run of the same pipeline.
    first = results.summarize(store, cfg.pipeline_name, run_id=first_outputs_run(store, cfg))
    assert first.blessed is True and first.pushed_to and first.run_id != summary.run_id
    assert os.listdir(cfg.resolved_serving_model_dir) == pushed_before  # nothing new pushed
    page = _run_page(results.run_outputs(store, run))  # the run page says why
    assert "**Not blessed**: Evaluator (threshold, same-run SE baseline) comparison did not " \
        "bless it" in page
    assert "no serving comparison in this pipeline" in page
    print("e2e timings (s):", {k: round(v) for k, v in TIMINGS.items()})
