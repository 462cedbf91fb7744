"""Tests of AnomaliesGate: anomalies stop the run by name; clean data passes the schema on."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402
from tensorflow_metadata.proto.v0 import anomalies_pb2  # noqa: E402
from tfx.types import artifact_utils, standard_artifacts  # noqa: E402

from pipelines import anomalies_gate  # noqa: E402


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


def run_gate(root, anomalies):
    out = standard_artifacts.Schema()
    out.uri = str(root / "validated")
    executor = anomalies_gate.AnomaliesGate.EXECUTOR_SPEC.executor_class()
    executor.Do({"anomalies": [anomalies], "schema": [schema_artifact(root)]},
                {"validated_schema": [out]}, {})
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
