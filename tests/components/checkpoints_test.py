"""Stable checkpoint folders: same inputs + settings -> same folder; any change -> another one."""
import json
import os
import types as pytypes

import tensorflow as tf
from tfx.proto.orchestration import pipeline_pb2
from tfx.types import standard_artifacts

from components import checkpoints

PROPS = {"budget": 600, "mode": "ME", "ui_metadata_path": None,
         "custom_config": json.dumps({"dataset": {"task": "ranking"}, "checkpoint_root": "/r"})}


def _artifact(cls, uri, files=None):
    a = cls()
    a.uri = str(uri)
    for name, text in (files or {}).items():
        os.makedirs(os.path.dirname(os.path.join(a.uri, name)), exist_ok=True)
        with open(os.path.join(a.uri, name), "w") as f:
            f.write(text)
    return a


def _inputs(tmp_path, vocab="a\nb\n"):
    return {"examples": [_artifact(standard_artifacts.Examples, tmp_path / "ex",
                                   {"Split-train/data.gz": "xyz"})],
            "transform_graph": [_artifact(standard_artifacts.TransformGraph, tmp_path / "tg",
                                          {"transform_fn/assets/vocab_user": vocab})]}


def _outputs(uri):
    return {"search_results": [_artifact(standard_artifacts.Model, uri)]}


def _dir(inputs, props=PROPS, outputs=None, context=None, root=None, extra=None):
    config = json.loads(props["custom_config"])
    if root is not None:
        config["checkpoint_root"] = root
    return checkpoints.stable_checkpoint_dir(inputs, outputs or _outputs("/o/1"), props, config,
                                             context, extra)


def test_same_inputs_and_settings_share_a_folder_under_the_root(tmp_path):
    inputs = _inputs(tmp_path)
    root = str(tmp_path / "root")
    first = _dir(inputs, root=root)
    # A retry or re-run: new output URIs, same folder.
    assert _dir(inputs, outputs=_outputs("/o/2"), root=root) == first
    assert os.path.dirname(first) == root
    with open(os.path.join(first, checkpoints.FINGERPRINT_FILE)) as f:
        recorded = json.load(f)
    assert recorded["exec_properties"]["budget"] == 600
    assert "checkpoint_root" not in recorded["exec_properties"]["custom_config"]
    # Properties that do not change the work do not change the key.
    assert _dir(inputs, {**PROPS, "ui_metadata_path": "/ui.json"}, root=root) == first


def test_any_change_of_inputs_or_settings_changes_the_folder(tmp_path):
    inputs = _inputs(tmp_path)
    root = str(tmp_path / "root")
    first = _dir(inputs, root=root)
    config = json.loads(PROPS["custom_config"])
    changed = [
        _dir(inputs, {**PROPS, "budget": 601}, root=root),
        _dir(inputs, {**PROPS, "mode": "SE"}, root=root),
        _dir(inputs, {**PROPS, "custom_config": json.dumps({**config, "seed": 1})}, root=root),
        _dir(inputs, root=root, extra={"search_config": {"seed": 1}}),
        # Same URIs, other content (a pipeline root reused after its MLMD was deleted).
        _dir(_inputs(tmp_path, vocab="a\nc\n"), root=root),
        _dir({**inputs, "examples": [_artifact(standard_artifacts.Examples, tmp_path / "ex2",
                                               {"Split-train/data.gz": "xyz"})]}, root=root),
    ]
    assert len({first, *changed}) == len(changed) + 1


def test_explicit_dir_wins_and_no_root_gives_none(tmp_path):
    inputs = _inputs(tmp_path)
    props = {**PROPS, "custom_config": json.dumps({"checkpoint_dir": "/mine", "checkpoint_root": "/r"})}
    assert _dir(inputs, props) == "/mine"
    no_root = {**PROPS, "custom_config": json.dumps({"dataset": {}})}
    assert _dir(inputs, no_root) is None


def test_root_from_the_launchers_output_layout(tmp_path):
    node = pipeline_pb2.PipelineNode()
    node.node_info.id = "NeuralInputSearch"
    context = pytypes.SimpleNamespace(pipeline_node=node)
    outputs = _outputs("/p/root/NeuralInputSearch/search_results/7")
    assert checkpoints.root_from_context(context, outputs) == "/p/root/checkpoints/NeuralInputSearch"
    # A layout it does not recognise (e.g. Vertex's) gives None, as does no context.
    assert checkpoints.root_from_context(context, _outputs("/p/job/task_1/search_results")) is None
    assert checkpoints.root_from_context(None, outputs) is None
    no_root = {**PROPS, "custom_config": json.dumps({"dataset": {}})}
    inputs = _inputs(tmp_path)
    derived = _dir(inputs, no_root, outputs=_outputs(tmp_path / "p/NeuralInputSearch/search_results/7"),
                   context=context)
    assert os.path.dirname(derived) == str(tmp_path / "p" / "checkpoints" / "NeuralInputSearch")


def test_latest_step(tmp_path):
    assert checkpoints.latest_step(str(tmp_path / "none")) is None
    assert checkpoints.latest_step(str(tmp_path)) is None
    manager = tf.train.CheckpointManager(tf.train.Checkpoint(v=tf.Variable(1.0)), str(tmp_path), 2)
    manager.save(checkpoint_number=40)
    assert checkpoints.latest_step(str(tmp_path)) == 40


def test_many_files_are_fingerprinted_by_name(tmp_path, monkeypatch):
    artifact = _inputs(tmp_path)["transform_graph"][0]
    assert checkpoints.artifact_fingerprint(artifact)["files"][0][:2] == \
        ["transform_fn/assets/vocab_user", 4]
    monkeypatch.setattr(checkpoints, "MAX_STAT_FILES", 0)
    assert checkpoints.artifact_fingerprint(artifact)["files"] == [["transform_fn/assets/vocab_user"]]
