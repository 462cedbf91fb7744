"""The embedded synthetic dataset of ``nis-pipeline --demo``, written so no user file is lost.

The demo writes ``<output_dir>/data/<task>/`` (CSV, schema, ``truth.json``) and a
marker file ``.nis-demo-data`` listing every file it wrote with its SHA-256. A
later ``--demo`` replaces that folder only when the marker says every file in
it is the demo's own, unedited; a folder the tool did not create (no marker),
an extra file or an edited file stops the run with a message instead. Files
identical to a fresh generation are kept as they are (same mtimes), so
ExampleGen's input fingerprint and hence the whole cached run stay valid.

Example::

    cfg_fields = demo_paths("demo_output", "ranking")        # nothing written
    write_demo_data("demo_output", "ranking", 20_000, seed=0)  # data + marker
"""
from __future__ import annotations

import filecmp
import hashlib
import json
import os
import shutil
import tempfile
from typing import Dict, Tuple

from pipelines.data import synthetic
from trainer_module.data.features import DatasetConfig

DEMO_MARKER = ".nis-demo-data"


class NotDemoDataError(ValueError):
    """The demo data folder holds files the demo did not write; nothing was changed."""


def demo_paths(output_dir: str, task: str) -> Tuple[str, str, str, DatasetConfig]:
    """``(data_dir, csv folder, schema path, dataset config)`` of the demo, without writing."""
    data_dir = os.path.join(output_dir, "data", task)
    return (data_dir, os.path.join(data_dir, "data"),
            os.path.join(data_dir, "schema", synthetic.SCHEMA_NAME), synthetic.dataset_config(task))


def _listing(root: str) -> Dict[str, str]:
    """Relative path -> absolute path of every file under ``root``."""
    return {os.path.relpath(os.path.join(d, n), root): os.path.join(d, n)
            for d, _, names in os.walk(root) for n in names}


def _sha256(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def check_owned(data_dir: str) -> None:
    """Raises NotDemoDataError unless every file in ``data_dir`` is an unedited demo file."""
    files = _listing(data_dir) if os.path.isdir(data_dir) else {}
    if os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise NotDemoDataError(f"--demo: {data_dir} exists and is not a folder; refusing to "
                               "replace it (choose another --output-dir)")
    if not files:
        return
    marker = os.path.join(data_dir, DEMO_MARKER)
    if DEMO_MARKER not in files:
        raise NotDemoDataError(
            f"--demo: {data_dir} holds files the demo did not write (no {DEMO_MARKER} marker); "
            "refusing to replace them: move them away or choose another --output-dir")
    with open(marker, encoding="utf-8") as f:
        owned = json.load(f).get("files", {})
    foreign = sorted(rel for rel, path in files.items()
                     if rel != DEMO_MARKER and owned.get(rel) != _sha256(path))
    if foreign:
        raise NotDemoDataError(
            f"--demo: {data_dir} holds files that are new or edited since the demo wrote it "
            f"({', '.join(foreign[:5])}); refusing to replace them: move them away or choose "
            "another --output-dir")


def write_demo_data(output_dir: str, task: str, num_examples: int, seed: int) -> None:
    """Generates the demo data into ``<output_dir>/data/<task>`` (see the module docstring)."""
    data_dir = demo_paths(output_dir, task)[0]
    check_owned(data_dir)
    parent = os.path.dirname(data_dir)
    os.makedirs(parent, exist_ok=True)
    fresh_dir = tempfile.mkdtemp(prefix=f".{task}-new-", dir=parent)
    try:
        synthetic.generate(task, num_examples, seed, fresh_dir)
        owned = {rel: _sha256(path) for rel, path in sorted(_listing(fresh_dir).items())}
        with open(os.path.join(fresh_dir, DEMO_MARKER), "w", encoding="utf-8") as f:
            json.dump({"written_by": "nis-pipeline --demo", "files": owned}, f, indent=1,
                      sort_keys=True)
        old, new = _listing(data_dir), _listing(fresh_dir)
        same = old.keys() == new.keys() and all(
            filecmp.cmp(old[k], new[k], shallow=False) for k in new)
        if not same:
            shutil.rmtree(data_dir, ignore_errors=True)  # check_owned: only the demo's files
            shutil.move(fresh_dir, data_dir)
    finally:
        shutil.rmtree(fresh_dir, ignore_errors=True)
