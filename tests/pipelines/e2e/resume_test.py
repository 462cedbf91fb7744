"""End to end: a search killed with SIGKILL after its first checkpoint resumes when the command is re-run.

A small pipeline (CsvExampleGen -> ImportSchemaGen -> Transform without statistics ->
NeuralInputSearch, the project's components and settings) runs through
``local_runner.run_pipeline`` in a child process (this file is also that process's script):
run 1 is killed once a search checkpoint exists; run 2 (the same command) must mark the killed
execution FAILED, serve the upstream components from the cache, log a resume from the
checkpoint's step and finish with the steps of an uninterrupted search. The checkpoint folder
is the one the executor derives from the launcher's output layout (no checkpoint_root given).
"""
import glob
import os
import signal
import subprocess
import sys
import time

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import pytest  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
WARMUP, SEARCH, LOG_EVERY, CHECKPOINT_EVERY = 20, 40, 10, 20
# Small networks and final selection: the test is about resuming, not about the search's quality.
SEARCH_CONFIG = {"log_every": LOG_EVERY, "checkpoint_every": CHECKPOINT_EVERY, "hidden_units": [16],
                 "controller_units": 8, "final_candidates": 16, "final_random_candidates": 16,
                 "final_eval_batches": 2}
BUDGET = 5_000
NAME = "resume"
SEARCH_ID = "NeuralInputSearch"


def pipeline_root(out_dir: str) -> str:
    return os.path.join(out_dir, "pipeline_root")


def metadata_path(out_dir: str) -> str:
    return os.path.join(pipeline_root(out_dir), "metadata.db")


def make_pipeline(out_dir: str):
    """ExampleGen -> ImportSchemaGen -> Transform -> NeuralInputSearch on ``out_dir/gen``."""
    from tfx import v1 as tfx

    from components.neural_input_search import NeuralInputSearch
    from pipelines.data import synthetic
    gen = os.path.join(out_dir, "gen")
    dataset = synthetic.dataset_config("ranking")
    example_gen = tfx.components.CsvExampleGen(
        input_base=os.path.join(gen, "data"),
        output_config=tfx.proto.Output(split_config=tfx.proto.SplitConfig(splits=[
            tfx.proto.SplitConfig.Split(name="train", hash_buckets=3),
            tfx.proto.SplitConfig.Split(name="eval", hash_buckets=1)]))).with_id("ExampleGen")
    schema = tfx.components.ImportSchemaGen(
        schema_file=os.path.join(gen, "schema", synthetic.SCHEMA_NAME)).with_id("SchemaGen")
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"], schema=schema.outputs["schema"],
        preprocessing_fn="trainer_module.data.preprocessing.preprocessing_fn", disable_statistics=True,
        custom_config={"dataset": dataset.to_dict()}).with_id("Transform")
    search = NeuralInputSearch(
        examples=transform.outputs["transformed_examples"],
        transform_graph=transform.outputs["transform_graph"], budget=BUDGET, mode="ME",
        search_config={"warmup_steps": WARMUP, "search_steps": SEARCH, "group_size": 16,
                       "num_negatives": 50, **SEARCH_CONFIG},
        train_batch_size=32, custom_config={"dataset": dataset.to_dict()}).with_id(SEARCH_ID)
    return tfx.dsl.Pipeline(
        pipeline_name=NAME, pipeline_root=pipeline_root(out_dir),
        components=[example_gen, schema, transform, search], enable_cache=True,
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            metadata_path(out_dir)),
        beam_pipeline_args=["--direct_running_mode=in_memory", "--direct_num_workers=1"])


def main(out_dir: str) -> None:
    """The child process: runs the pipeline like ``nis-pipeline`` does."""
    from absl import logging

    from pipelines.runners import local as local_runner
    logging.set_verbosity(logging.WARNING)
    local_runner.run_pipeline(make_pipeline(out_dir), metadata_path(out_dir))


def _command(out_dir: str):
    env = dict(os.environ, PYTHONPATH=REPO, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    return [sys.executable, os.path.abspath(__file__), out_dir], env


@pytest.mark.e2e
def test_killed_search_resumes_on_rerun(tmp_path):
    from components import artifacts
    from pipelines.ops import results
    from pipelines.data import synthetic
    out = str(tmp_path)
    synthetic.generate("ranking", 1500, 0, str(tmp_path / "gen"))
    command, env = _command(out)
    log = open(tmp_path / "run1.log", "w")
    first = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    index = os.path.join(pipeline_root(out), "checkpoints", SEARCH_ID, "*", "checkpoint")
    deadline = time.time() + 600
    while not glob.glob(index) and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    alive = first.poll() is None
    if alive:
        os.killpg(first.pid, signal.SIGKILL)
    first.wait()
    log.close()
    assert alive and glob.glob(index), (tmp_path / "run1.log").read_text()[-3000:]

    store = results.connect(metadata_path(out))
    killed = [e for e in store.get_executions() if results.node_id(store, e) == SEARCH_ID]
    assert [e.last_known_state for e in killed] == [results.Execution.RUNNING]

    second = subprocess.run(command, env=env, capture_output=True, text=True, timeout=600)
    output = second.stdout + second.stderr
    assert second.returncode == 0, output[-3000:]
    assert f"Marked execution(s) [{killed[0].id}] FAILED" in output, output[-3000:]
    resumed = [int(line.split("resuming from step ")[1].split()[0])
               for line in output.splitlines() if "NIS search: resuming from step" in line]
    total = WARMUP + SEARCH
    assert len(resumed) == 1 and 0 < resumed[0] < total, output[-3000:]

    # MLMD: nothing left active; the killed search FAILED, one complete search with its outputs.
    executions = store.get_executions()
    assert not [e for e in executions if e.last_known_state in (results.Execution.NEW,
                                                                results.Execution.RUNNING)]
    states = {}
    for e in executions:
        states.setdefault(results.node_id(store, e), {})[e.id] = e.last_known_state
    assert sorted(states["Transform"].values()) == [results.Execution.COMPLETE,
                                                   results.Execution.CACHED]
    searches = states[SEARCH_ID]
    complete = [i for i, state in searches.items() if state == results.Execution.COMPLETE]
    assert searches[killed[0].id] == results.Execution.FAILED and len(complete) == 1
    outputs = results.execution_artifacts(store, complete[0], results.Event.OUTPUT)
    assert set(outputs) == {"embedding_spec", "search_results"}
    assert artifacts.read_mes(outputs["embedding_spec"][0].uri).cost() <= BUDGET
    # The same steps as an uninterrupted search: every logged step once, up to the last.
    history = artifacts.read_json(outputs["search_results"][0].uri, artifacts.HISTORY_FILE)
    assert [h["step"] for h in history] == list(range(LOG_EVERY, total + 1, LOG_EVERY))
    # The re-run used the upstream outputs from the cache: the same checkpoint folder.
    assert len(glob.glob(index)) == 1


if __name__ == "__main__":
    main(sys.argv[1])
