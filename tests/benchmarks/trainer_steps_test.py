"""The trainer-steps side run: the TFRecords it writes read back as the arrays they came from."""
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests", "trainer_module"))

import planted_data as pdata  # noqa: E402
from benchmarks import trainer_steps  # noqa: E402
from benchmarks.data import TaskData  # noqa: E402
from trainer_module.data import tfx_io  # noqa: E402


def test_records_read_back_as_the_arrays_in_order(tmp_path):
    splits = {"train": pdata.ranking_arrays(50, 0), "eval": pdata.ranking_arrays(30, 1)}
    data = TaskData("planted", pdata.DATASET, dict(pdata.VOCAB), None, splits)
    files = trainer_steps.write_records(data, str(tmp_path), rows=40)
    assert trainer_steps.write_records(data, str(tmp_path), rows=40) == files  # written once
    assert tfx_io.count_examples(files["train"]) == 40 and tfx_io.count_examples(files["eval"]) == 4
    ds = tfx_io.input_fn(files["train"], trainer_steps._feature_spec(data), data.dataset, 40,
                         shuffle=False, repeat=False, drop_unknown_labels=False)
    feats, labels = next(iter(ds))
    np.testing.assert_array_equal(labels.numpy(), splits["train"][1][:40])
    for name, values in splits["train"][0].items():
        np.testing.assert_array_equal(feats[name].numpy(), values[:40])
