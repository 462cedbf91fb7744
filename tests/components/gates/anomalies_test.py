"""Tests of AnomaliesGate: anomalies and statistics problems stop the run by name; clean data
passes the schema on. Statistics come from TFDV on small data frames (the same generator
StatisticsGen runs)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402
import pandas as pd  # noqa: E402
import tensorflow_data_validation as tfdv  # noqa: E402
from tensorflow_metadata.proto.v0 import anomalies_pb2  # noqa: E402
from tfx.types import artifact_utils, standard_artifacts  # noqa: E402

from components.gates import anomalies as anomalies_gate
from components.gates import statistics_checks  # noqa: E402

CLEAN = {"user": ["a", "b", "c", "a"], "clicked": [0, 1, 1, 0]}


def write_anomalies(root, per_split):
    artifact = standard_artifacts.ExampleAnomalies()
    artifact.uri = str(root / "anomalies")
    artifact.split_names = artifact_utils.encode_split_names(list(per_split))
    for split, features in per_split.items():
        anomalies = anomalies_pb2.Anomalies()
        for name, (short, long) in features.items():
            info = anomalies.anomaly_info[name]
            info.short_description, info.description = short, long
        path = root / "anomalies" / f"Split-{split}" / anomalies_gate.ANOMALIES_FILE
        path.parent.mkdir(parents=True)
        path.write_bytes(anomalies.SerializeToString())
    return artifact


def schema_artifact(root):
    artifact = standard_artifacts.Schema()
    artifact.uri = str(root / "schema")
    (root / "schema").mkdir()
    (root / "schema" / "schema.pbtxt").write_text('feature { name: "x" type: INT }\n')
    return artifact


def write_statistics(root, per_split):
    """StatisticsGen's layout: ``Split-<name>/FeatureStats.pb`` of TFDV statistics."""
    artifact = standard_artifacts.ExampleStatistics()
    artifact.uri = str(root / "statistics")
    artifact.split_names = artifact_utils.encode_split_names(list(per_split))
    for split, frame in per_split.items():
        stats = tfdv.generate_statistics_from_dataframe(pd.DataFrame(frame))
        path = root / "statistics" / f"Split-{split}" / statistics_checks.STATS_FILE
        path.parent.mkdir(parents=True)
        path.write_bytes(stats.SerializeToString())
    return artifact


def run_gate(root, anomalies, frames=None, label="clicked", task="ranking"):
    out = standard_artifacts.Schema()
    out.uri = str(root / "validated")
    frames = frames or {s: CLEAN for s in artifact_utils.decode_split_names(anomalies.split_names)}
    executor = anomalies_gate.AnomaliesGate.EXECUTOR_SPEC.executor_class()
    executor.Do({"anomalies": [anomalies], "statistics": [write_statistics(root, frames)],
                 "schema": [schema_artifact(root)]},
                {"validated_schema": [out]}, {"label": label, "task": task})
    return out


def test_read_anomalies_names_split_feature_and_reason(tmp_path):
    art = write_anomalies(tmp_path, {"train": {"clicked": ("Unexpected data type", "got STRING")},
                                     "eval": {}})
    assert anomalies_gate.read_anomalies(art.uri, ["train", "eval"]) == [
        "train/clicked: Unexpected data type -- got STRING"]


def test_gate_raises_naming_every_anomaly(tmp_path):
    art = write_anomalies(tmp_path, {"train": {"region": ("Column dropped", "missing"),
                                               "clicked": ("Unexpected data type", "STRING")}})
    with pytest.raises(anomalies_gate.DataAnomaliesError) as err:
        run_gate(tmp_path, art)
    message = str(err.value)
    assert "2 anomalies" in message
    assert "train/region: Column dropped" in message and "train/clicked" in message
    assert not (tmp_path / "validated").exists()


def test_clean_data_passes_schema_through(tmp_path):
    art = write_anomalies(tmp_path, {"train": {}, "eval": {}})
    out = run_gate(tmp_path, art)
    assert (tmp_path / "validated" / "schema.pbtxt").read_text() == \
        (tmp_path / "schema" / "schema.pbtxt").read_text()
    assert out.uri == str(tmp_path / "validated")


@pytest.mark.parametrize("label_values, message", [
    ([0, 1, 5, 1], "values other than 0/1 (min 0, max 5"),
    ([0, -1, 1, 1], "values other than 0/1 (min -1, max 1"),
    ([0.0, 0.5, 1.0, 1.0], "values other than 0/1"),
    (["yes", "no", "yes", "no"], "non-numeric values (e.g. 'yes', 'no')"),
    ([1.0, None, 0.0, 1.0], "1 example(s) have no label"),
])
def test_ranking_labels_outside_0_1_stop_the_gate(tmp_path, label_values, message):
    art = write_anomalies(tmp_path, {"train": {}})
    frame = dict(CLEAN, clicked=label_values)
    with pytest.raises(anomalies_gate.DataAnomaliesError) as err:
        run_gate(tmp_path, art, {"train": frame})
    assert "train/clicked: " in str(err.value) and message in str(err.value), str(err.value)
    assert not (tmp_path / "validated").exists()


@pytest.mark.parametrize("split", ["train", "eval", "test"])
@pytest.mark.parametrize("label", [0, 1])
def test_a_split_with_one_label_class_stops_the_gate(tmp_path, split, label):
    art = write_anomalies(tmp_path, {"train": {}, "eval": {}, "test": {}})
    frames = {s: CLEAN for s in ("train", "eval", "test")}
    frames[split] = dict(CLEAN, clicked=[label] * 4)
    with pytest.raises(anomalies_gate.DataAnomaliesError) as err:
        run_gate(tmp_path, art, frames)
    assert "1 anomaly" in str(err.value), str(err.value)
    assert (f"{split}/clicked: every label of the split is {label} (one class in 4 examples): "
            "AUC is undefined") in str(err.value), str(err.value)
    assert not (tmp_path / "validated").exists()


def test_retrieval_labels_are_not_held_to_0_1(tmp_path):
    art = write_anomalies(tmp_path, {"train": {}})
    run_gate(tmp_path, art, {"train": dict(CLEAN, clicked=["i1", "i2", "i3", "i1"])},
             task="retrieval")
    assert (tmp_path / "validated" / "schema.pbtxt").exists()


def test_split_without_examples_stops_the_gate(tmp_path):
    art = write_anomalies(tmp_path, {"train": {}, "test": {}})
    with pytest.raises(anomalies_gate.DataAnomaliesError, match="test/<dataset>: the split has no "
                       "examples"):
        run_gate(tmp_path, art, {"train": CLEAN, "test": {"user": [], "clicked": []}})
