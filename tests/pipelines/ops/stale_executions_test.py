"""Executions a killed run left RUNNING: marked FAILED by the next run, unless another run is alive."""
import fcntl
import logging
import os

import pytest

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipelines.ops import run_lock
from pipelines.ops import stale_executions


@pytest.fixture(autouse=True)
def absl_records_reach_caplog():
    """Earlier CLI tests in the same process may leave quiet-output filters on the absl logger."""
    absl_logger = logging.getLogger("absl")
    saved = list(absl_logger.filters)
    for f in saved:
        absl_logger.removeFilter(f)
    yield
    for f in saved:
        absl_logger.addFilter(f)

Execution = metadata_store_pb2.Execution


def _store(tmp_path):
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(tmp_path / "metadata.db")
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    return metadata_store.MetadataStore(config)


def _context(store, type_name, name):
    type_id = store.put_context_type(metadata_store_pb2.ContextType(name=type_name))
    [cid] = store.put_contexts([metadata_store_pb2.Context(type_id=type_id, name=name)])
    return store.get_contexts_by_id([cid])[0]


def _pipeline(store, name, states):
    """A pipeline context with one execution per state, each with its node context."""
    type_id = store.put_execution_type(metadata_store_pb2.ExecutionType(name="Component"))
    pipeline = _context(store, "pipeline", name)
    ids = []
    for i, state in enumerate(states):
        node = _context(store, "node", f"{name}.Node{i}")
        eid, _, _ = store.put_execution(Execution(type_id=type_id, last_known_state=state), [],
                                        [pipeline, node])
        ids.append(eid)
    return ids


def test_killed_runs_executions_are_marked_failed(tmp_path, caplog):
    store = _store(tmp_path)
    done, running, new = _pipeline(store, "p", [Execution.COMPLETE, Execution.RUNNING, Execution.NEW])
    (other,) = _pipeline(store, "q", [Execution.RUNNING])
    os.makedirs(tmp_path / "Node1" / "search_results" / str(running))

    assert stale_executions.settle(store, "p", str(tmp_path), alone=False) == []
    assert store.get_executions_by_id([running])[0].last_known_state == Execution.RUNNING
    assert "Another run" in caplog.text

    assert stale_executions.settle(store, "p", str(tmp_path), alone=True) == [running, new]
    states = {e.id: e.last_known_state for e in store.get_executions()}
    assert states == {done: Execution.COMPLETE, running: Execution.FAILED, new: Execution.FAILED,
                      other: Execution.RUNNING}
    marked = store.get_executions_by_id([running])[0]
    assert "killed" in marked.custom_properties["stale_reason"].string_value
    assert f"Node1 (execution {running}, partial outputs left in {tmp_path}/Node1/" in caplog.text
    assert stale_executions.settle(store, "p", str(tmp_path), alone=True) == []
    assert stale_executions.settle(store, "absent", str(tmp_path), alone=True) == []


def test_run_lock_is_exclusive_reentrant_and_released(tmp_path):
    root = str(tmp_path / "root")
    with run_lock.run_lock(root):
        with run_lock.try_run_lock(root) as nested:  # run() holds it and calls run_pipeline()
            assert nested
        with pytest.raises(run_lock.RunLockedError, match=f"pid {os.getpid()}, started"):
            with run_lock.run_lock(root):  # a second run in the same process
                pass
    # Another process's run: flock locks belong to an open file, so a second open stands in.
    other = os.open(os.path.join(root, run_lock.LOCK_FILE), os.O_RDWR)
    fcntl.flock(other, fcntl.LOCK_EX)
    try:
        with run_lock.try_run_lock(root) as second:
            assert not second
        with pytest.raises(run_lock.RunLockedError, match="another run is using pipeline root"):
            with run_lock.run_lock(root):
                pass
    finally:
        os.close(other)
    with run_lock.try_run_lock(root) as again:
        assert again
