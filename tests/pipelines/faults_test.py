"""Fault suite, fast part: every bad input that must stop before any Beam work.

Each row runs the real ``nis-pipeline`` entry point (``local_runner.main``) in-process on tiny
files and asserts the exit status, a one-line message naming the field / file, that nothing
was written under --output-dir (the run stopped before any pipeline step) and that no user
file changed. Cases that need statistics or vocabularies share pipeline runs in
``tests/pipelines/e2e/faults_e2e_test.py``.
"""
import json
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402

from components import artifacts  # noqa: E402
from file_snapshot import snapshot  # noqa: E402  (tests/pipelines/file_snapshot.py)
from pipelines.runners import local as local_runner
from pipelines.ops import run_lock  # noqa: E402
from pipelines.data.demo import DEMO_MARKER  # noqa: E402
from trainer_module.data.features import DatasetConfig, FeatureConfig  # noqa: E402
from trainer_module.model import trainer as run_fn  # noqa: E402
from trainer_module.model.trainer_config import TrainerConfig  # noqa: E402
from trainer_module.spec.mes import FeatureMES, ModelSpec  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCHEMA = os.path.join(REPO, "schemas", "synthetic_ranking", "schema.pbtxt")
DATASET = {"task": "ranking", "label": "clicked",
           "features": [{"name": "user"}, {"name": "genres", "multivalent": True, "max_len": 2}]}
CSV = "user,genres,clicked\nu1,a|b,1\nu2,b,0\n"


def user_files(root, dataset=None, csv_bytes=CSV.encode()):
    """A user's inputs: data/a.csv and dataset.json (text or dict)."""
    os.makedirs(root / "data")
    (root / "data" / "a.csv").write_bytes(csv_bytes)
    text = dataset if isinstance(dataset, str) else json.dumps(dataset or DATASET)
    (root / "dataset.json").write_text(text)


def argv(root, *extra):
    return ["--data-path", str(root / "data"), "--schema-path", SCHEMA,
            "--dataset-config", str(root / "dataset.json"), "--output-dir", str(root / "out"),
            "--warmup-steps", "1", "--search-steps", "1", "--train-steps", "1", *extra]


def _dataset(**changes):
    d = json.loads(json.dumps(DATASET))
    for key, value in changes.items():
        if value is None:
            d.pop(key)
        else:
            d[key] = value
    return d


# (case, dataset config, CSV bytes, extra flags, exit status, message)
CLI_CASES = [
    ("unknown mode", None, None, ["--mode", "XX"], 2,
     "mode must be one of ('SE', 'ME'), got 'XX'"),
    ("non-integer split ratio", None, None, ["--split-ratios", "train=x,eval=2"], 2,
     "--split-ratios: train='x' must be a positive integer"),
    ("split ratios without eval", None, None, ["--split-ratios", "train=7,test=1"], 2,
     "split_ratios needs positive integer 'train' and 'eval' buckets"),
    ("zero budget", None, None, ["--budget", "0"], 2,
     "budget must be a positive number of floats (> 0), got 0"),
    ("negative budget", None, None, ["--budget", "-5"], 2, "budget must be a positive number"),
    ("dataset config without label", _dataset(label=None), None, [], 2,
     "dataset config: missing required key(s) ['label'] (needs task, label, features)"),
    ("unknown feature key", _dataset(features=[{"name": "user", "multivalued": True}]), None, [],
     2, "unknown key(s) ['multivalued']; accepted: name, multivalent,"),
    ("malformed dataset JSON", '{"task": "ranking", "label": ', None, [], 2,
     "dataset.json: malformed JSON at line 1 column"),
    ("wrong task", None, None, ["--task", "retrieval"], 2,
     "dataset config is for task 'ranking' but the pipeline task is 'retrieval'"),
    ("pipeline name with ..", None, None, ["--pipeline-name", "../../x"], 2,
     "pipeline_name must be one folder name"),
    ("pipeline name with a separator", None, None, ["--pipeline-name", "a/b"], 2,
     "(no path separators or '..'), got 'a/b'"),
    ("missing data path", None, None, ["--data-path", "/nonexistent/data"], 2,
     "--data-path /nonexistent/data: no such file or folder"),
    ("missing schema path", None, None, ["--schema-path", "/nonexistent/s.pbtxt"], 2,
     "--schema-path /nonexistent/s.pbtxt: no such file or folder"),
    ("malformed CSV row", None, b"user,genres,clicked\nu1,a,1\nu2,0\n", [], 2,
     "a.csv line 3: 2 field(s) but the header has 3"),
    ("non-UTF-8 CSV", None, b"user,genres,clicked\nu1,a,1\n\xe9t\xe9,b,0\n", [], 2,
     "a.csv line 3: not UTF-8 text (byte 0xe9 at column 1)"),
    # An id's raw value must reach its vocabulary unchanged (pipelines/ops/preflight.py).
    ("id with a newline (quoted cell)", None, b'user,genres,clicked\n"u\n1",a|b,1\nu2,b,0\n', [],
     2, "a.csv line 2: column 'user' value 'u\\n1' holds a line break; TF Transform's "
        "vocabulary drops such ids"),
    ("id with a carriage return", None, b'user,genres,clicked\nu1,a|b,1\n"u\r2",b,0\n', [], 2,
     "a.csv line 3: column 'user' value 'u\\r2' holds a line break"),
    ("id with leading whitespace", None, b"user,genres,clicked\n u1,a|b,1\nu2,b,0\n", [], 2,
     "a.csv line 2: column 'user' value ' u1' has leading/trailing whitespace; Transform "
     "strips it, so it would become 'u1'"),
    ("bag item with trailing whitespace", None, b"user,genres,clicked\nu1,a |b,1\nu2,b,0\n", [],
     2, "a.csv line 2: column 'genres' value 'a |b' (item 'a ') has leading/trailing whitespace"),
    ("empty item in a bag", None, b"user,genres,clicked\nu1,a||b,1\nu2,b,0\n", [], 2,
     "a.csv line 2: column 'genres' value 'a||b' has an empty item (separator '|' at an end or "
     "doubled)"),
    ("numeric id with leading zeros", None, b"user,genres,clicked\n007,a|b,1\n8,b,0\n", [], 2,
     "a.csv line 2: column 'user' value '007' would reach the vocabulary as '7': every value of "
     "the column in this input reads as a number, so CsvExampleGen stores them as integers"),
    ("numeric id read as float", None, b"user,genres,clicked\n1234567,a|b,1\n0.5,b,0\n", [], 2,
     "a.csv line 2: column 'user' value '1234567' would reach the vocabulary as '1.23457e+06'"),
    ("duplicate header name", None, b"user,genres,user,clicked\nu1,a|b,x,1\nu2,b,y,0\n", [], 2,
     "a.csv line 1: column 'user' appears 2 times in the header (columns 1, 3); CsvExampleGen "
     "would keep only the last"),
    ("UTF-8 byte-order mark", None, b"\xef\xbb\xbfuser,genres,clicked\nu1,a,1\nu2,b,0\n", [], 2,
     "a.csv line 1: the file starts with a UTF-8 byte-order mark; the first column would be "
     "named '\\ufeffuser'"),
    ("feature empty in every row", None, b"user,genres,clicked\nu1,,1\nu2,,0\n", [], 2,
     "a.csv: column 'genres' is empty in every one of the 2 rows; it carries no information"),
    ("feature constant in every row", None, b"user,genres,clicked\nu1,a|b,1\nu1,a|b,0\n", [], 2,
     "a.csv: column 'user' holds the same value 'u1' in every one of the 2 rows"),
    ("one label class in every row", None, b"user,genres,clicked\nu1,a|b,0\nu2,b,0\n", [], 2,
     "a.csv: column 'clicked' (the ranking label) is '0' in every one of the 2 rows: one class, "
     "so AUC is undefined"),
]


@pytest.mark.parametrize("case, dataset, csv_bytes, extra, status, message", CLI_CASES,
                         ids=[c[0] for c in CLI_CASES])
def test_cli_fault(tmp_path, capsys, case, dataset, csv_bytes, extra, status, message):
    user_files(tmp_path, dataset, csv_bytes or CSV.encode())
    before = snapshot(tmp_path)
    rc = local_runner.main(argv(tmp_path, *extra))
    err = capsys.readouterr().err
    assert rc == status, (case, err)
    assert message in err, (case, err)
    assert err.startswith("nis-pipeline: error: ") and err.count("\n") == 1, err  # one line
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists(), "something was written before the error"
    assert snapshot(tmp_path) == before


def test_rows_over_max_len_are_counted(tmp_path, capsys, monkeypatch):
    """Bags longer than max_len are truncated before the vocabulary (preprocessing_fn); the
    runner says how many rows are, before the pipeline starts."""
    user_files(tmp_path, csv_bytes=b"user,genres,clicked\nu1,a|b|c|d,1\nu2,b,0\nu3,a|b|c,1\n")

    def no_pipeline(cfg):
        raise run_lock.RunLockedError("stub: the pipeline is not run here")
    monkeypatch.setattr(local_runner, "run", no_pipeline)
    assert local_runner.main(argv(tmp_path)) == 3
    out = capsys.readouterr().out
    assert ("Note: column 'genres': 2 of 3 rows hold more than max_len 2 items (up to 4); the "
            "vocabulary and the model use the first 2 items of each row") in out, out


def test_second_concurrent_run_is_refused(tmp_path, capsys):
    user_files(tmp_path)
    root = tmp_path / "out" / "pipeline_root" / "nis-pipeline"
    with run_lock.run_lock(str(root)):  # a run of the same pipeline is in progress
        rc = local_runner.main(argv(tmp_path))
    err = capsys.readouterr().err
    assert rc == 3, err
    assert f"another run is using pipeline root {root} (pid {os.getpid()}, started" in err
    assert not (root / "metadata.db").exists()
    with run_lock.run_lock(str(root)):  # released: the next run may start
        pass


def test_demo_never_replaces_files_it_did_not_write(tmp_path, capsys):
    mine = tmp_path / "data" / "ranking" / "data" / "data.csv"
    mine.parent.mkdir(parents=True)
    mine.write_text("my,own\n1,2\n")
    before = snapshot(tmp_path)
    rc = local_runner.main(["--demo", "--output-dir", str(tmp_path), "--demo-examples", "50"])
    err = capsys.readouterr().err
    assert rc == 2 and "holds files the demo did not write (no .nis-demo-data marker)" in err
    assert snapshot(tmp_path) == before


def test_demo_never_replaces_edited_or_added_files(tmp_path, capsys):
    cfg = local_runner.make_demo_config(str(tmp_path), num_examples=50)
    data_dir = os.path.dirname(cfg.data_path)
    assert os.path.exists(os.path.join(data_dir, DEMO_MARKER))
    with open(os.path.join(cfg.data_path, "data.csv"), "a", encoding="utf-8") as f:
        f.write("an,edited,row\n")
    with open(os.path.join(cfg.data_path, "extra.csv"), "w", encoding="utf-8") as f:
        f.write("x\n")
    before = snapshot(tmp_path)
    rc = local_runner.main(["--demo", "--output-dir", str(tmp_path), "--demo-examples", "60"])
    err = capsys.readouterr().err
    assert rc == 2 and "new or edited since the demo wrote it (data/data.csv, data/extra.csv)" in err
    assert snapshot(tmp_path) == before


def test_print_config_writes_nothing(tmp_path, capsys):
    out = tmp_path / "demo"
    assert local_runner.main(["--demo", "--print-config", "--output-dir", str(out)]) == 0
    assert json.loads(capsys.readouterr().out)["output_dir"] == str(out)
    assert not out.exists()


SPEC = ModelSpec(budget=2000, mode="ME", features={"a": FeatureMES([(10, 16), (90, 4)])})


def _mes_artifact(tmp_path, text, recorded_budget=2000):
    art = artifacts.MultiSizeEmbeddingSpec()
    art.uri = str(tmp_path / "mes")
    os.makedirs(art.uri)
    with open(os.path.join(art.uri, artifacts.MES_FILE), "w", encoding="utf-8") as f:
        f.write(text)
    art.set_int_custom_property("budget", recorded_budget)
    return art


def _over_budget():
    d = json.loads(SPEC.to_json())
    d["features"]["a"] = [[100, 64]]
    d.pop("cost", None)
    return json.dumps(d)


def _budget_raised():
    d = json.loads(SPEC.to_json())
    d["budget"] = 10 ** 9
    return json.dumps(d)


# (case, mes.json text, message): refused by the artifact reader AND by the trainer path.
MES_CASES = [
    ("empty mes.json", "", "is empty"),
    ("truncated mes.json", SPEC.to_json()[:40], "is unreadable (JSONDecodeError"),
    ("MES over its budget", _over_budget(), "costs 6,400 floats, over its budget of 2,000"),
    ("MES budget raised", _budget_raised(),
     "says budget 1,000,000,000 floats but"),
]


@pytest.mark.parametrize("case, text, message", MES_CASES, ids=[c[0] for c in MES_CASES])
def test_mes_fault(tmp_path, case, text, message):
    art = _mes_artifact(tmp_path, text)
    path = artifacts.mes_path(art)
    with pytest.raises(ValueError, match="MES (file )?" + path) as err:
        artifacts.read_mes(art)
    assert message in str(err.value), str(err.value)
    with pytest.raises(ValueError, match="MES (file )?" + path) as err:
        run_fn.resolve_spec(TrainerConfig(DatasetConfig("ranking", "y", [FeatureConfig("a")]),
                                          mes_uri=path, budget=2000), {"a": 1000})
    assert message in str(err.value), str(err.value)


# (case, --config JSON, message): every PipelineConfig field is type-checked once, at load.
CONFIG_CASES = [
    ("budget as a string", {"budget": "100000"}, "budget must be an integer, got '100000'"),
    ("fractional budget", {"budget": 100000.5},
     "budget must be an integer, got 100000.5 (not a whole number)"),
    ("boolean budget", {"budget": True}, "budget must be an integer, got True"),
    ("budget above int64", {"budget": 1e30}, "budget must be an integer"),
    ("boolean as a string", {"train_baseline": "yes"},
     "train_baseline must be true or false, got 'yes'"),
    ("search-space width as a string", {"search_space": {"user": {"dim": "8"}}},
     "search_space['user']['dim'] must be an integer, got '8'"),
    ("search option of the wrong type", {"search": {"search_steps": "many"}},
     "search_steps"),
]


@pytest.mark.parametrize("case, config, message", CONFIG_CASES, ids=[c[0] for c in CONFIG_CASES])
def test_config_json_fault(tmp_path, capsys, case, config, message):
    user_files(tmp_path)
    (tmp_path / "config.json").write_text(json.dumps(config))
    before = snapshot(tmp_path)
    rc = local_runner.main(argv(tmp_path, "--config", str(tmp_path / "config.json")))
    err = capsys.readouterr().err
    assert rc == 2, (case, err)
    assert message in err, (case, err)
    assert err.startswith("nis-pipeline: error: ") and err.count("\n") == 1, err
    assert not (tmp_path / "out").exists() and snapshot(tmp_path) == before
