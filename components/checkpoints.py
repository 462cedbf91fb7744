"""Stable checkpoint folders, so a preempted search or training resumes instead of restarting.

A retried step (Kubeflow / Vertex retry after preemption) or a re-run of the same
local pipeline runs as a *new* execution with new output URIs, so checkpoints kept
in the output URI are never found again. Instead each executor checkpoints into::

    <checkpoint root>/<key>

* the key is a digest of what determines the work: every input artifact's
  fingerprint (URI, file names and sizes, the content of its small files), the
  execution properties (``custom_config`` included, less the checkpoint keys and
  ``ui_metadata_path``), any extra settings the executor resolves (the search's
  ``SearchConfig`` with its defaults) and the installed nis-tfx version. Different
  inputs or settings give a different key, so a finished search never makes a
  later, different one resume; the same inputs and settings give the same key, so
  a retry or re-run finds the checkpoints. ``fingerprint.json`` in the folder
  records what the key was computed from.
* the root is ``custom_config['checkpoint_root']`` (``pipelines.pipeline`` sets
  ``<pipeline root>/checkpoints/<component id>``), else, when the executor runs
  under a TFX launcher that lays outputs out as
  ``<pipeline root>/<node id>/<output key>/<execution id>``, the same folder
  derived from an output URI.

An explicit ``custom_config['checkpoint_dir']`` wins over both; when no root is
known ``stable_checkpoint_dir`` returns None and the caller keeps its default.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from typing import Any, Dict, List, Mapping, Optional, Sequence

import tensorflow as tf
from absl import logging
from tfx import types

CHECKPOINT_DIR_KEY = "checkpoint_dir"
CHECKPOINT_ROOT_KEY = "checkpoint_root"
CHECKPOINTS_FOLDER = "checkpoints"
FINGERPRINT_FILE = "fingerprint.json"
# Execution properties that do not change what is computed.
IGNORED_PROPERTIES = ("ui_metadata_path",)
# Files up to this size are fingerprinted by content; larger ones by name and size.
CONTENT_HASH_LIMIT = 1 << 20
# An artifact with more files is fingerprinted by file names only (one listing, no stat per file).
MAX_STAT_FILES = 256
_CKPT_NAME = re.compile(r"ckpt-(\d+)$")


def _package_version() -> str:
    try:
        from importlib import metadata  # pylint: disable=import-outside-toplevel
        return metadata.version("nis-tfx")
    except Exception:  # pylint: disable=broad-except
        return "unknown"


def _file_digest(path: str) -> str:
    digest = hashlib.sha256()
    with tf.io.gfile.GFile(path, "rb") as f:
        digest.update(f.read())
    return digest.hexdigest()


def artifact_fingerprint(artifact: types.Artifact) -> Dict[str, Any]:
    """URI plus (relative path, size, content digest of files up to CONTENT_HASH_LIMIT bytes);
    only the relative paths when there are more than MAX_STAT_FILES files.

    The URI identifies an immutable artifact; the listing guards against a URI
    reused for other content (e.g. a pipeline root kept after its MLMD was deleted).
    """
    files: List[List[Any]] = []
    if artifact.uri and tf.io.gfile.exists(artifact.uri):
        if tf.io.gfile.isdir(artifact.uri):
            paths = [os.path.join(d, n) for d, _, names in tf.io.gfile.walk(artifact.uri) for n in names]
        else:
            paths = [artifact.uri]
        for path in sorted(paths):
            name = os.path.relpath(path, artifact.uri)
            if len(paths) > MAX_STAT_FILES:
                files.append([name])
                continue
            size = tf.io.gfile.stat(path).length
            files.append([name, int(size),
                          _file_digest(path) if size <= CONTENT_HASH_LIMIT else None])
    return {"uri": artifact.uri, "type": artifact.type_name, "files": files}


def determining_properties(exec_properties: Mapping[str, Any]) -> Dict[str, Any]:
    """The execution properties that decide the result, ``custom_config`` decoded, checkpoint keys dropped."""
    out = {}
    for name, value in exec_properties.items():
        if name in IGNORED_PROPERTIES:
            continue
        if name == "custom_config" and isinstance(value, (str, dict)):
            config = json.loads(value) if isinstance(value, str) else dict(value)
            if isinstance(config, dict):
                value = {k: v for k, v in config.items()
                         if k not in (CHECKPOINT_DIR_KEY, CHECKPOINT_ROOT_KEY)}
        out[name] = value
    return out


def fingerprint(input_dict: Mapping[str, Sequence[types.Artifact]],
                exec_properties: Mapping[str, Any],
                extra: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """What a stable checkpoint key is computed from (JSON-serializable)."""
    return {"inputs": {key: [artifact_fingerprint(a) for a in artifacts]
                       for key, artifacts in sorted(input_dict.items())},
            "exec_properties": determining_properties(exec_properties),
            "extra": dict(extra or {}),
            "nis_tfx_version": _package_version()}


def checkpoint_key(fingerprint_dict: Mapping[str, Any]) -> str:
    """A 16-hex-digit digest of a ``fingerprint()``."""
    text = json.dumps(fingerprint_dict, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def root_from_context(context: Any, output_dict: Mapping[str, Sequence[types.Artifact]]) -> Optional[str]:
    """``<pipeline root>/checkpoints/<node id>`` from a TFX executor context, or None.

    Valid when an output URI reads ``<pipeline root>/<node id>/<output key>/<execution id>``
    (the portable launcher's layout, used by LocalDagRunner and Kubeflow V1).
    """
    node = getattr(context, "pipeline_node", None) if context is not None else None
    node_id = node.node_info.id if node is not None else ""
    if not node_id:
        return None
    for key, artifacts in output_dict.items():
        for artifact in artifacts:
            output_dir = os.path.dirname(os.path.normpath(artifact.uri))
            node_dir = os.path.dirname(output_dir)
            if os.path.basename(output_dir) == key and os.path.basename(node_dir) == node_id:
                return os.path.join(os.path.dirname(node_dir), CHECKPOINTS_FOLDER, node_id)
    return None


def stable_checkpoint_dir(input_dict: Mapping[str, Sequence[types.Artifact]],
                          output_dict: Mapping[str, Sequence[types.Artifact]],
                          exec_properties: Mapping[str, Any],
                          custom_config: Mapping[str, Any],
                          context: Any = None,
                          extra: Optional[Mapping[str, Any]] = None) -> Optional[str]:
    """The explicit ``checkpoint_dir``, else ``<root>/<key>`` (see the module docstring), else None."""
    if custom_config.get(CHECKPOINT_DIR_KEY):
        return str(custom_config[CHECKPOINT_DIR_KEY])
    root = custom_config.get(CHECKPOINT_ROOT_KEY) or root_from_context(context, output_dict)
    if not root:
        return None
    fp = fingerprint(input_dict, exec_properties, extra)
    path = os.path.join(str(root), checkpoint_key(fp))
    record = os.path.join(path, FINGERPRINT_FILE)
    if not tf.io.gfile.exists(record):
        tf.io.gfile.makedirs(path)
        with tf.io.gfile.GFile(record, "w") as f:
            f.write(json.dumps(fp, indent=1, sort_keys=True, default=str))
    return path


def latest_step(checkpoint_dir: Optional[str]) -> Optional[int]:
    """Step number of the newest ``ckpt-<step>`` in ``checkpoint_dir``, or None when there is none."""
    if not checkpoint_dir or not tf.io.gfile.exists(checkpoint_dir):
        return None
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    match = _CKPT_NAME.search(latest or "")
    return int(match.group(1)) if match else None


def log_resume_state(checkpoint_dir: str, what: str, total_steps: Optional[int] = None) -> Optional[int]:
    """Logs "resuming from step N" or "starting at step 0" for ``checkpoint_dir``; returns N or None."""
    step = latest_step(checkpoint_dir)
    of = f" of {total_steps}" if total_steps is not None else ""
    if step is None:
        logging.info("%s: no checkpoint in %s; starting at step 0%s", what, checkpoint_dir, of)
    else:
        logging.warning("%s: resuming from step %d%s (checkpoint in %s)", what, step, of,
                        checkpoint_dir)
    return step
