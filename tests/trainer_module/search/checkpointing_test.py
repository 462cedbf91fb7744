"""History rows, their TensorBoard summaries and the saved history of a search."""
import os

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
