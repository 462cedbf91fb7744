"""One local run at a time per pipeline root: an exclusive ``flock`` on ``<root>/.nis-run.lock``.

Two runs of one pipeline on one ``--output-dir`` would share the SQLite MLMD
database and the artifact folders; the second is refused with a message naming
the holder instead. The operating system drops the lock when the holding
process ends, killed or not, so a crashed run never blocks the next one.

Example::

    with run_lock(cfg.resolved_pipeline_root):
        LocalDagRunner().run(pipeline)
"""
from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
from typing import Iterator

LOCK_FILE = ".nis-run.lock"


class RunLockedError(RuntimeError):
    """Another process is running a pipeline on the same pipeline root."""


@contextlib.contextmanager
def run_lock(pipeline_root: str) -> Iterator[str]:
    """Holds the lock of ``pipeline_root`` for the ``with`` block; yields the lock path."""
    os.makedirs(pipeline_root, exist_ok=True)
    path = os.path.join(pipeline_root, LOCK_FILE)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip() or "another process"
            raise RunLockedError(
                f"another run is using pipeline root {pipeline_root} ({holder}); wait for it to "
                "finish or use another --output-dir / --pipeline-name "
                f"(lock: {path})") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()}, started {datetime.datetime.now():%Y-%m-%d %H:%M:%S}"
                  .encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
