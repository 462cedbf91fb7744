"""End to end on the other input path: gzipped TFRecord tf.Examples (ImportExampleGen)
with the schema inferred by SchemaGen instead of imported."""
import csv
import os
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402
from tfx import v1 as tfx  # noqa: E402

from components.artifacts import read_mes  # noqa: E402
from pipelines.runners import local as local_runner
from pipelines.ops import results  # noqa: E402
from pipelines import pipeline as P  # noqa: E402
from pipelines.config import PipelineConfig  # noqa: E402
from pipelines.data import synthetic  # noqa: E402

pytestmark = pytest.mark.e2e


def write_tfrecords(csv_path: str, label: str, out_dir: str) -> None:
    """The generated CSV as gzipped tf.Examples (int label, string features, empty = no value)."""
    os.makedirs(out_dir)
    with tf.io.TFRecordWriter(os.path.join(out_dir, "data.tfrecord.gz"), options="GZIP") as w, \
            open(csv_path) as f:
        for row in csv.DictReader(f):
            feats = {k: tf.train.Feature(bytes_list=tf.train.BytesList(value=[v.encode()] if v else []))
                     for k, v in row.items() if k != label}
            feats[label] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(row[label])]))
            w.write(tf.train.Example(features=tf.train.Features(feature=feats)).SerializeToString())


def test_tfrecord_input_with_inferred_schema_runs_every_component(tmp_path):
    # As small as every component allows: the input path is under test, not the search.
    csv_path, _, dataset = synthetic.generate("ranking", 600, 1, str(tmp_path / "gen"))
    write_tfrecords(csv_path, dataset.label, str(tmp_path / "tfrecords"))
    cfg = PipelineConfig(
        pipeline_name="e2e-tfrecord", data_path=str(tmp_path / "tfrecords"), input_format="tfrecord",
        schema_path=None, dataset=dataset.to_dict(), output_dir=str(tmp_path / "out"), budget=5_000,
        search={"warmup_steps": 4, "search_steps": 4, "group_size": 16, "log_every": 4,
                "final_candidates": 4, "final_random_candidates": 4, "final_eval_batches": 2},
        train_batch_size=32, train_steps=4, eval_steps=2, blessing_threshold=0.0,
        serving_tolerance=None)  # the serving comparison is local_pipeline_test's; one TFMA run here
    pipeline = P.create_pipeline(cfg)
    kinds = {c.id: type(c) for c in pipeline.components}
    assert kinds[P.EXAMPLE_GEN] is tfx.components.ImportExampleGen
    assert kinds[P.SCHEMA_GEN] is tfx.components.SchemaGen
    start = time.time()
    local_runner.run(cfg)
    store = results.connect(cfg.metadata_path)
    run = results.latest_run(store, cfg.pipeline_name)
    states = {n: e.last_known_state for n, e in results.run_executions(store, run).items()
              if n != P.LATEST_BLESSED_RESOLVER}  # not an execution in every TFX version
    assert set(states) == set(P.COMPONENT_IDS) - {P.LATEST_BLESSED_RESOLVER, P.SERVING_EVALUATOR}
    assert set(states.values()) == {results.Execution.COMPLETE}, states
    outputs = results.run_outputs(store, run)
    assert read_mes(outputs[P.SEARCH]["embedding_spec"].uri).cost() <= 5_000
    print(f"TFRecord + inferred schema pipeline: {time.time() - start:.0f}s")
