"""Tests of VocabularyGate's checks: budget feasibility (search and baseline) and the share of
retrieval labels unseen in training, on hand-written raw examples (no Beam run)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

import tensorflow as tf  # noqa: E402

from components.gates import vocabulary as vocabulary_gate  # noqa: E402

SIZES = {"user": 40, "item": 100}


def test_feasible_budget_has_no_problem():
    assert vocabulary_gate.budget_problems(SIZES, 2_000, "ME", "", check_baseline=True) == []


def test_budget_of_one_float_is_refused_for_search_and_baseline():
    problems = vocabulary_gate.budget_problems(SIZES, 1, "ME", "", check_baseline=True)
    assert len(problems) == 2, problems
    assert problems[0].startswith("infeasible budget for the search (vocabulary sizes "
                                  "{'user': 40, 'item': 100})")
    assert "budget 1 floats is smaller than the cheapest" in problems[0]
    assert problems[1].startswith("infeasible budget for the BaselineTrainer")
    assert "refusing to train a degenerate model" in problems[1]
    # Without the baseline only the search's problem is reported.
    assert len(vocabulary_gate.budget_problems(SIZES, 1, "ME", "", check_baseline=False)) == 1


def _write_examples(path, labels):
    os.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path, options="GZIP") as w:
        for label in labels:
            value = ([] if label is None else [label.encode()])
            example = tf.train.Example(features=tf.train.Features(feature={
                "next": tf.train.Feature(bytes_list=tf.train.BytesList(value=value))}))
            w.write(example.SerializeToString())


def test_oov_label_share_counts_unseen_and_missing_labels(tmp_path):
    _write_examples(str(tmp_path / "Split-test" / "data.gz"), ["i1", " i2 ", "new", None])
    share = vocabulary_gate.oov_label_share(str(tmp_path), "test", "next", ["i1", "i2", "i3"])
    assert share == 0.5


def test_oov_over_threshold_or_total_is_a_problem():
    assert vocabulary_gate.oov_problems({"eval": 0.1, "test": 0.2}, "next", 50, 0.2) == []
    problems = vocabulary_gate.oov_problems({"eval": 0.1, "test": 0.3}, "next", 50, 0.2)
    assert problems == ["retrieval labels unseen in training: 30.0% of the test split's 'next' "
                        "values are not in the training label vocabulary (50 labels), over "
                        "max_oov_label_share 0.2; Recall@K cannot score them"]
    # 100% unseen leaves Recall@K nothing to score (NaN): refused whatever the threshold.
    assert len(vocabulary_gate.oov_problems({"test": 1.0}, "next", 50, 1.0)) == 1


def _components_conftest():
    """The tiny TFX-shaped data builder of tests/components (a transform graph from tft_beam)."""
    import importlib.util  # pylint: disable=import-outside-toplevel
    path = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        "conftest.py")
    spec = importlib.util.spec_from_file_location("components_conftest", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gate_executor_passes_and_records_the_share_or_stops(tmp_path):
    """The real component executor on a real transform graph of tiny retrieval data."""
    import pytest  # pylint: disable=import-outside-toplevel
    from tfx.types import standard_artifacts  # pylint: disable=import-outside-toplevel
    conftest = _components_conftest()
    data = conftest.build_tiny_data(str(tmp_path / "tiny"), "retrieval")
    examples = conftest.examples_artifact(data.raw_examples)
    graph = conftest.transform_graph_artifact(data.transform_graph)

    def run(budget, max_share):
        share = standard_artifacts.Float()
        share.uri = str(tmp_path / f"share_{budget}_{max_share}")
        executor = vocabulary_gate.VocabularyGate.EXECUTOR_SPEC.executor_class()
        executor.Do({"examples": [examples], "transform_graph": [graph]},
                    {"oov_label_share": [share]},
                    {"dataset": data.dataset.to_json(), "budget": budget, "mode": "ME",
                     "search_space": "", "check_baseline": True, "eval_splits": "eval",
                     "max_oov_label_share": max_share})
        with open(share.uri, encoding="utf-8") as f:
            return float(f.read())

    assert 0.0 <= run(2_000, 1.0) < 1.0
    # One float: the search could still pick 1 item x 1 dim of these tiny vocabularies, the
    # uniform baseline cannot embed an item of every feature.
    with pytest.raises(vocabulary_gate.InfeasibleRunError,
                       match="infeasible budget for the BaselineTrainer: .* embeds no item of"):
        run(1, 1.0)
