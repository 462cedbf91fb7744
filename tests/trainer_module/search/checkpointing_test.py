"""History rows, their TensorBoard summaries and the saved history of a search."""
import os

import pytest
import tensorflow as tf

from trainer_module.search import checkpointing
from trainer_module.spec.mes import FeatureMES, ModelSpec

SPEC = ModelSpec(budget=1000, mode="ME", features={"user": FeatureMES([(10, 8), (20, 4)]),
                                                    "genre": FeatureMES([])})


def test_rows_carry_phase_stats_cost_ratio_and_mes():
    warm = checkpointing.progress_row(50, True, 0.7, None, SPEC)
    assert warm["phase"] == "warmup" and warm["mean_reward"] is None
    row = checkpointing.progress_row(100, False, 0.5, [0.6, 0.61, 0.9], SPEC)
    assert (row["mean_reward"], row["mean_objective"], row["mean_cost_ratio"]) == (0.6, 0.61, 0.9)
    # Exact accounting: tables 10x8 + 20x4 = 160 floats, projection of the 4-wide entry 4x8 = 32.
    assert row["most_probable_cost_ratio"] == (160 + 32) / 1000
    assert row["mes"] == {"user": [[10, 8], [20, 4]], "genre": []}
    assert row["controller_entropy"] is None  # not measured
    assert checkpointing.progress_row(100, False, 0.5, None, SPEC, 0.25)["controller_entropy"] == 0.25


def test_history_round_trip_and_fresh_directory(tmp_path):
    assert checkpointing.load_history(str(tmp_path)) == []
    rows = [checkpointing.progress_row(s, s <= 50, 0.5, None if s <= 50 else [0.1, 0.2, 0.3], SPEC)
            for s in (50, 100)]
    checkpointing.save_history(str(tmp_path), rows)
    assert checkpointing.load_history(str(tmp_path)) == rows


def test_report_writes_scalars_and_the_mes_to_tensorboard(tmp_path):
    writer = tf.summary.create_file_writer(str(tmp_path))
    checkpointing.report(checkpointing.progress_row(100, False, 0.5, [0.6, 0.61, 0.9], SPEC), writer)
    tags = set()
    for name in os.listdir(tmp_path):
        for event in tf.compat.v1.train.summary_iterator(os.path.join(tmp_path, name)):
            tags |= {v.tag for v in event.summary.value}
    assert {"search/main_loss", "search/mean_reward", "search/most_probable_mes"} <= tags


def _checkpointer(tmp_path, value=0.0, **kw):
    from trainer_module.search.config import SearchConfig
    cfg = SearchConfig(warmup_steps=2, search_steps=10, log_every=2, checkpoint_every=2)
    objects = {"w": tf.Variable(value), "step": tf.Variable(0, dtype=tf.int64)}
    return checkpointing.Checkpointer(cfg, objects, lambda: SPEC, str(tmp_path), **kw), objects


def test_rows_record_the_controllers_entropy(tmp_path):
    checkpointer, objects = _checkpointer(tmp_path, entropy=lambda: 1.5)
    _steps(checkpointer, objects, 4)
    assert [r["controller_entropy"] for r in checkpointer.history] == [1.5, 1.5]


def _steps(checkpointer, objects, upto, start=0):
    for step in range(start + 1, upto + 1):
        objects["w"].assign(float(step))
        objects["step"].assign(step)
        checkpointer.after_steps(step, step <= 2, 0.5, [])


def test_a_truncated_newest_checkpoint_falls_back_to_the_one_before(tmp_path, caplog):
    first, objects = _checkpointer(tmp_path)
    first.restore()
    _steps(first, objects, 6)
    newest = tf.train.latest_checkpoint(str(tmp_path))
    assert newest.endswith("ckpt-6")
    data = newest + ".data-00000-of-00001"
    with open(data, "r+b") as f:  # a kill while writing: the file is cut short
        f.truncate(os.path.getsize(data) // 2)
    again, objects = _checkpointer(tmp_path, value=-1.0)
    logged = []
    import absl.logging
    absl_info, absl_warning = absl.logging.info, absl.logging.warning
    try:
        absl.logging.info = lambda fmt, *a: logged.append(fmt % a)
        absl.logging.warning = lambda fmt, *a: logged.append(fmt % a)
        assert again.restore() == 4
    finally:
        absl.logging.info, absl.logging.warning = absl_info, absl_warning
    assert float(objects["w"].numpy()) == 4.0
    assert [r["step"] for r in again.history] == [2, 4]
    assert any("ckpt-6 does not read" in line for line in logged), logged
    assert any(line.startswith("Progress: NeuralInputSearch resumed at step 4") for line in logged)


def test_no_readable_checkpoint_is_one_clear_error(tmp_path):
    first, objects = _checkpointer(tmp_path)
    first.restore()
    _steps(first, objects, 2)
    for name in os.listdir(tmp_path):
        if ".data-" in name:
            open(os.path.join(tmp_path, name), "wb").close()
    again, _ = _checkpointer(tmp_path)
    with pytest.raises(RuntimeError, match="no checkpoint in .* reads"):
        again.restore()


def test_sigterm_ends_the_search_with_a_checkpoint_at_the_next_boundary(tmp_path):
    import signal
    checkpointer, objects = _checkpointer(tmp_path)
    checkpointer.restore()
    with pytest.raises(checkpointing.Preempted, match="SIGTERM at step 3: checkpoint of step 3"):
        with checkpointer.preemptible():
            _steps(checkpointer, objects, 2)
            os.kill(os.getpid(), signal.SIGTERM)  # handled: the process lives on
            _steps(checkpointer, objects, 3, start=2)
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("ckpt-3")
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back
