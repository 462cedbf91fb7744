"""One local run at a time per pipeline root: an exclusive ``flock`` on ``<root>/.nis-run.lock``.

Two runs of one pipeline on one ``--output-dir`` would share the SQLite MLMD
database and the artifact folders; the second is refused with a message naming
the holder instead. The operating system drops the lock when the holding
process ends, killed or not, so a crashed run never blocks the next one. The
same lock tells ``pipelines.ops.stale_executions`` whether executions left active
belong to a live run (``try_run_lock``): whoever gets it is alone on the root.

``try_run_lock`` counts the lock as this process's when ``run_lock`` already holds
it here (``run`` holds it and calls ``run_pipeline``, which asks for it too):
``flock`` locks belong to an open file, so a second ``open`` in the same process
would otherwise see its own run as another. ``run_lock`` itself never nests: a
second run in the same process is refused like one in another process.

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
    """Another run (in this process or another) is using the same pipeline root."""


def _holder(path: str) -> str:
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read(200).strip()


@contextlib.contextmanager
def _hold(pipeline_root: str, nested_ok: bool) -> Iterator[tuple]:
    """Tries the lock of ``pipeline_root``; yields (lock path, got it, holder text if not).

    ``nested_ok``: a lock this process already holds counts as got.
    """
    os.makedirs(pipeline_root, exist_ok=True)
    path = os.path.join(pipeline_root, LOCK_FILE)
    key = os.path.realpath(path)
    if key in _HELD:
        if not nested_ok:
            yield path, False, _holder(path)
            return
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
      RunLockedError: another run holds it, in this process or another (the message names
        the holder and the lock).
    """
    with _hold(pipeline_root, nested_ok=False) as (path, acquired, holder):
        if not acquired:
            raise RunLockedError(
                f"another run is using pipeline root {pipeline_root} ({holder or 'another process'}); "
                "wait for it to finish or use another --output-dir / --pipeline-name "
                f"(lock: {path})")
        yield path


@contextlib.contextmanager
def try_run_lock(pipeline_root: str) -> Iterator[bool]:
    """Holds the lock of ``pipeline_root`` unless another process does (this process's own
    ``run_lock`` counts as held); yields whether this process holds it."""
    with _hold(pipeline_root, nested_ok=True) as (_, acquired, _text):
        yield acquired
