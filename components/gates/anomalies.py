"""AnomaliesGate: stop the pipeline when ExampleValidator found anomalies or the data is unusable.

In TFX 1.16 ExampleValidator only *records* anomalies (an ``ExampleAnomalies``
artifact with a ``blessed`` custom property per split); the run goes on. This
python-function component reads the recorded anomalies and raises, naming every
split, feature and anomaly, so nothing downstream (Transform, the search, the
trainers) runs on data that does not match the schema. It also runs the checks
of ``statistics_checks`` on StatisticsGen's statistics (a split without
examples; a ranking label that is not 0/1), which hold with an imported or an
inferred schema alike.

When the data is clean it passes the schema through as a new ``Schema``
artifact; downstream components consume that one, which makes the validation a
data dependency visible in MLMD lineage (Schema -> AnomaliesGate -> Schema ->
Transform) and in every orchestrator (local, Kubeflow, Vertex).

Usage::

    gate = AnomaliesGate(anomalies=example_validator.outputs['anomalies'],
                         statistics=statistics_gen.outputs['statistics'],
                         schema=schema_gen.outputs['schema'], label='clicked', task='ranking')
    transform = Transform(..., schema=gate.outputs['validated_schema'])
"""

import os
from typing import List

from tensorflow_metadata.proto.v0 import anomalies_pb2
from tfx import v1 as tfx
from tfx.dsl.io import fileio
from tfx.types import artifact_utils

from components.gates import statistics_checks

ANOMALIES_FILE = "SchemaDiff.pb"
SCHEMA_FILE = "schema.pbtxt"


class DataAnomaliesError(RuntimeError):
    """The examples do not match the schema; the message names every anomaly."""


def read_anomalies(uri: str, split_names: List[str]) -> List[str]:
    """Human-readable anomalies ``"split/feature: description"`` found under ``uri``."""
    found: List[str] = []
    for split in split_names:
        path = os.path.join(uri, f"Split-{split}", ANOMALIES_FILE)
        if not fileio.exists(path):
            continue
        anomalies = anomalies_pb2.Anomalies()
        with fileio.open(path, "rb") as f:
            anomalies.ParseFromString(f.read())
        for feature, info in sorted(anomalies.anomaly_info.items()):
            found.append(f"{split}/{feature}: {info.short_description} -- {info.description}")
        if anomalies.HasField("dataset_anomaly_info"):
            info = anomalies.dataset_anomaly_info
            found.append(f"{split}/<dataset>: {info.short_description} -- {info.description}")
    return found


def _schema_file(uri: str) -> str:
    files = [n for n in fileio.listdir(uri) if not n.startswith(".")]
    if len(files) != 1:
        raise ValueError(f"expected exactly one schema file in {uri}, found {files}")
    return os.path.join(uri, files[0])


@tfx.dsl.components.component
def AnomaliesGate(  # pylint: disable=invalid-name
    anomalies: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleAnomalies],
    statistics: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ExampleStatistics],
    schema: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Schema],
    validated_schema: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Schema],
    label: tfx.dsl.components.Parameter[str] = "",
    task: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Raises DataAnomaliesError naming the anomalies and data problems; else copies the schema."""
    splits = artifact_utils.decode_split_names(anomalies.split_names)
    found = read_anomalies(anomalies.uri, splits)
    found += statistics_checks.check_statistics(
        statistics.uri, artifact_utils.decode_split_names(statistics.split_names), label, task)
    if found:
        raise DataAnomaliesError(
            f"ExampleValidator and the statistics checks found {len(found)} "
            f"anomal{'y' if len(found) == 1 else 'ies'} in the input examples; stopping before "
            "Transform/training:\n  " + "\n  ".join(found)
            + f"\n(anomalies: {anomalies.uri}; statistics: {statistics.uri})")
    fileio.makedirs(validated_schema.uri)
    fileio.copy(_schema_file(schema.uri), os.path.join(validated_schema.uri, SCHEMA_FILE),
                overwrite=True)
