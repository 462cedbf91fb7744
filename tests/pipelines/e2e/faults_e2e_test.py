"""Fault suite, pipeline part: bad inputs that need real statistics or vocabularies.

Table-driven like ``tests/pipelines/faults_test.py`` (which holds every case that fails
before any Beam work). Each scenario below is ONE real ``nis-pipeline`` run on tiny CSVs whose
splits each carry different defects, so several cases share a run; each case asserts the exit
status, its message, how early the run stopped (from MLMD: which components never ran) and
that the user's input files are untouched.
"""
import csv
import os
import shutil
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))  # tests/pipelines

import pytest  # noqa: E402

from pipelines.runners import local as local_runner
from pipelines.ops import results  # noqa: E402
from pipelines import pipeline as P  # noqa: E402
from pipelines.data import synthetic  # noqa: E402
from file_snapshot import snapshot  # noqa: E402  (tests/pipelines/file_snapshot.py)

pytestmark = pytest.mark.e2e
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SPLITS = "train=train/*,eval=eval/*,test=test/*"
AFTER_VOCABULARY_GATE = {P.SEARCH, P.TRAINER, P.BASELINE_TRAINER, P.EVALUATOR,
                         P.SERVING_EVALUATOR, P.BLESSING_GATE, P.PUSHER, P.RUN_REPORT}
AFTER_GATE = {P.TRANSFORM, P.VOCABULARY_GATE} | AFTER_VOCABULARY_GATE


def _rows(task, n, seed):
    csv_path, _, dataset = synthetic.generate(task, n, seed, f"/tmp/nis_faults_gen_{os.getpid()}")
    with open(csv_path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    shutil.rmtree(f"/tmp/nis_faults_gen_{os.getpid()}")
    return rows, dataset


def _write(path, rows, drop=()):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fields = [k for k in rows[0] if k not in drop] if rows else []
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def _labels(rows, mapping):
    return [dict(r, clicked=mapping(i, r["clicked"])) for i, r in enumerate(rows)]


def scenario_ranking_schema(root):
    """Imported schema; train drops 'region', eval has yes/no labels, test has 5/-1 and gaps."""
    rows, dataset = _rows("ranking", 500, 3)
    _write(f"{root}/data/train/a.csv", rows[:300], drop=("region",))
    _write(f"{root}/data/eval/a.csv", _labels(rows[300:400], lambda i, v: "yes" if v == "1" else "no"))
    test = _labels(rows[400:], lambda i, v: "5" if i == 0 else "-1" if i == 1 else v)
    test[2]["user_id"] = ""
    _write(f"{root}/data/test/a.csv", test)
    return dataset, ["--schema-path", os.path.join(REPO, "schemas", "synthetic_ranking",
                                                    "schema.pbtxt"), "--verbose"]


def scenario_ranking_inferred(root):
    """Inferred schema: non-numeric labels everywhere, a header-only test split."""
    rows, dataset = _rows("ranking", 300, 4)
    text = _labels(rows, lambda i, v: "yes" if v == "1" else "no")
    _write(f"{root}/data/train/a.csv", text[:200])
    _write(f"{root}/data/eval/a.csv", text[200:])
    with open(f"{root}/data/train/a.csv", encoding="utf-8") as f:
        header = f.readline()
    os.makedirs(f"{root}/data/test")
    with open(f"{root}/data/test/a.csv", "w", encoding="utf-8") as f:
        f.write(header)
    return dataset, ["--infer-schema"]


def scenario_retrieval(root):
    """Budget 1 and a test split whose labels never occur in training."""
    rows, dataset = _rows("retrieval", 400, 5)
    _write(f"{root}/data/train/a.csv", rows[:250])
    _write(f"{root}/data/eval/a.csv", rows[250:350])
    _write(f"{root}/data/test/a.csv", [dict(r, next_item=f"unseen_{i}")
                                       for i, r in enumerate(rows[350:])])
    return dataset, ["--schema-path", os.path.join(REPO, "schemas", "synthetic_retrieval",
                                                    "schema.pbtxt"), "--budget", "1"]


SCENARIOS = {"ranking_schema": scenario_ranking_schema,
             "ranking_inferred": scenario_ranking_inferred,
             "retrieval": scenario_retrieval}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Runs each scenario once (lazily): name -> (rc, stderr + stdout, MLMD states, files ok)."""
    done = {}

    def get(name, capfd, caplog):
        if name not in done:
            root = str(tmp_path_factory.mktemp(name))
            dataset, extra = SCENARIOS[name](root)
            with open(f"{root}/dataset.json", "w", encoding="utf-8") as f:
                f.write(dataset.to_json())
            before = snapshot(root)
            capfd.readouterr()
            rc = local_runner.main([
                "--pipeline-name", "faults", "--output-dir", f"{root}/out",
                "--data-path", f"{root}/data", "--input-splits", SPLITS,
                "--dataset-config", f"{root}/dataset.json", "--task", dataset.task,
                "--warmup-steps", "2", "--search-steps", "2", "--train-steps", "2",
                "--eval-steps", "1"] + extra)
            out, err = capfd.readouterr()
            logs = caplog.text  # --verbose: absl INFO records (stderr outside pytest)
            untouched = {k: v for k, v in snapshot(root).items() if not k.startswith("out/")}
            store = results.connect(f"{root}/out/pipeline_root/faults/metadata.db")
            run = results.latest_run(store, "faults")
            states = {n: e.last_known_state for n, e in results.run_executions(store, run).items()}
            done[name] = (rc, err + out + logs, states, untouched == before)
        return done[name]

    return get


CASES = [
    # (case, scenario, messages, components that must not have run)
    ("dropped column", "ranking_schema", ["train/region: Column dropped"], AFTER_GATE),
    ("schema type mismatch", "ranking_schema",
     ["eval/clicked:", "Expected data of type: INT but got STRING"], AFTER_GATE),
    ("non-numeric ranking label (imported schema)", "ranking_schema",
     ["eval/clicked: ranking labels must be 0 or 1, got non-numeric values (e.g. "], AFTER_GATE),
    ("missing values", "ranking_schema", ["test/user_id:"], AFTER_GATE),
    ("ranking label 5 / -1", "ranking_schema",
     ["test/clicked: ranking labels must be 0 or 1, got values other than 0/1 (min -1, max 5"],
     AFTER_GATE),
    ("--verbose shows component progress", "ranking_schema",
     ["Component ExampleGen is running", "Component AnomaliesGate is running"], AFTER_GATE),
    ("non-numeric ranking label (inferred schema)", "ranking_inferred",
     ["train/clicked: ranking labels must be 0 or 1, got non-numeric values (e.g. "], AFTER_GATE),
    ("header-only split", "ranking_inferred", ["test/<dataset>: the split has no examples"],
     AFTER_GATE),
    ("infeasible budget", "retrieval",
     ["infeasible budget for the search", "budget 1 floats is smaller than the cheapest",
      "infeasible budget for the BaselineTrainer"], AFTER_VOCABULARY_GATE),
    ("retrieval labels unseen in training", "retrieval",
     ["100.0% of the test split's 'next_item' values are not in the training label vocabulary"],
     AFTER_VOCABULARY_GATE),
]


@pytest.mark.parametrize("case, scenario, messages, not_run", CASES, ids=[c[0] for c in CASES])
def test_fault(runs, capfd, caplog, case, scenario, messages, not_run):
    rc, text, states, untouched = runs(scenario, capfd, caplog)
    assert rc == 1, (case, text[-3000:])
    for message in messages:
        assert message in text, (case, message, text[-3000:])
    assert not set(states) & not_run, (case, states)
    assert untouched, f"{case}: a user file changed"
    assert "nan" not in text.split("Pipeline run FAILED")[-1]
