"""One local run at a time per pipeline root: an exclusive ``flock`` on ``<root>/.nis-run.lock``.

Two runs of one pipeline on one ``--output-dir`` would share the SQLite MLMD
database and the artifact folders; the second is refused with a message naming
the holder instead. The operating system drops the lock when the holding
process ends, killed or not, so a crashed run never blocks the next one. The
same lock tells ``pipelines.stale_executions`` whether executions left active
belong to a live run (``try_run_lock``): whoever gets it is alone on the root.

A process that holds the lock may enter it again (``run`` holds it and calls
``run_pipeline``, which asks for it too): ``flock`` locks belong to an open file,
so a second ``open`` in the same process would otherwise see its own run as another.

Example::

    with run_lock(cfg.resolved_pipeline_root):
        LocalDagRunner().run(pipeline)
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
from typing import Dict, Iterator

LOCK_FILE = ".nis-run.lock"
_HELD: Dict[str, int] = {}  # real path of a lock file this process holds -> nesting depth


class RunLockedError(RuntimeError):
    """Another process is running a pipeline on the same pipeline root."""


@contextlib.contextmanager
def _hold(pipeline_root: str) -> Iterator[tuple]:
    """Tries the lock of ``pipeline_root``; yields (lock path, got it, holder text if not)."""
    os.makedirs(pipeline_root, exist_ok=True)
    path = os.path.join(pipeline_root, LOCK_FILE)
    key = os.path.realpath(path)
    if key in _HELD:
        _HELD[key] += 1
        try:
            yield path, True, ""
        finally:
            _HELD[key] -= 1
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            acquired = True
        except BlockingIOError:
            acquired = False
        if not acquired:
            yield path, False, os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
            return
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {datetime.datetime.now():%Y-%m-%d %H:%M:%S}"
                  .encode(), 0)
        _HELD[key] = 1
        try:
            yield path, True, ""
        finally:
            del _HELD[key]
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


@contextlib.contextmanager
def run_lock(pipeline_root: str) -> Iterator[str]:
    """Holds the lock of ``pipeline_root`` for the ``with`` block; yields the lock path.

    Raises:
      RunLockedError: another process holds it (the message names the holder and the lock).
    """
    with _hold(pipeline_root) as (path, acquired, holder):
        if not acquired:
            raise RunLockedError(
                f"another run is using pipeline root {pipeline_root} ({holder or 'another process'}); "
                "wait for it to finish or use another --output-dir / --pipeline-name "
                f"(lock: {path})")
        yield path


@contextlib.contextmanager
def try_run_lock(pipeline_root: str) -> Iterator[bool]:
    """Holds the lock of ``pipeline_root`` if no other process does; yields whether this one holds it."""
    with _hold(pipeline_root) as (_, acquired, _holder):
        yield acquired
