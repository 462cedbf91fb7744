"""Tests of the synthetic recommendation data generator and its committed schemas."""
import collections
import dataclasses
import os
import re
import subprocess
import sys

import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from pipelines.data import synthetic
from trainer_module.data.features import DatasetConfig

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
SMALL = synthetic.SyntheticSizes(num_users=300, num_items=2000, num_categories=50,
                                 num_regions=40, num_noise=200, num_head_items=50,
                                 latent_dim=8, history_len=4)


@pytest.fixture(scope="module", params=synthetic.TASKS)
def data(request):
    return synthetic.generate_columns(request.param, 20_000, seed=3, sizes=SMALL)


def _auc(scores, labels):
    order = np.argsort(scores, kind="stable")
    ranks = np.empty(len(scores))
    ranks[order] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    return (ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum())


def test_deterministic_given_seed(tmp_path):
    a = synthetic.generate("ranking", 500, 7, str(tmp_path / "a"), SMALL)
    b = synthetic.generate("ranking", 500, 7, str(tmp_path / "b"), SMALL)
    c = synthetic.generate("ranking", 500, 8, str(tmp_path / "c"), SMALL)
    read = lambda p: open(p, encoding="utf-8").read()  # noqa: E731
    assert read(a[0]) == read(b[0]) and read(a[1]) == read(b[1])
    assert read(a[0]) != read(c[0])
    assert a[2] == b[2] == synthetic.dataset_config("ranking", SMALL)


def test_csv_layout_matches_dataset_config(tmp_path):
    for task in synthetic.TASKS:
        csv_path, schema_path, config = synthetic.generate(task, 300, 0, str(tmp_path / task))
        assert os.path.dirname(csv_path) != os.path.dirname(schema_path)  # ExampleGen reads a dir
        with open(csv_path, encoding="utf-8") as f:
            lines = f.read().splitlines()
        assert lines[0].split(",") == config.names + [config.label]
        assert len(lines) == 301 and all(line.count(",") == len(config.names) for line in lines)
        assert DatasetConfig.from_json(config.to_json()) == config
        assert config.feature("history").multivalent and config.feature("history").max_len == 5


def test_cardinalities_and_id_format(data):
    limits = {"user_id": ("u", SMALL.num_users), "item_id": ("i", SMALL.num_items),
              "item_category": ("c", SMALL.num_categories), "region": ("r", SMALL.num_regions),
              "noise_id": ("n", SMALL.num_noise)}
    for name, (prefix, n) in limits.items():
        values = set(data.columns[name])
        numbers = {int(v[len(prefix):]) for v in values}
        assert all(v.startswith(prefix) for v in values), name
        assert min(numbers) >= 0 and max(numbers) < n, name
        assert 0.3 * min(n, 20_000) < len(values) <= n, (name, len(values))


def test_zipf_head(data):
    counts = collections.Counter(data.columns["item_id"])
    names = data.params.names["item_id"]
    probs = synthetic._zipf_probs(SMALL.num_items, SMALL.zipf_exponent)
    assert [name for name, _ in counts.most_common(3)] == list(names[:3])  # rank order
    assert counts[names[0]] / 20_000 == pytest.approx(probs[0], rel=0.1)
    assert counts[names[0]] / counts[names[9]] == pytest.approx(10 ** SMALL.zipf_exponent, rel=0.3)
    head_share = np.isin(data.columns["item_id"], data.params.head_items).mean()
    assert head_share == pytest.approx(probs[:SMALL.num_head_items].sum(), abs=0.02)
    assert sorted(names[0]) != sorted(min(names))  # ids are not sorted by popularity


def test_multivalued_history_cells(data):
    cells = data.columns["history"]
    lengths = collections.Counter(0 if c == "" else len(c.split("|")) for c in cells)
    assert set(lengths) == set(range(SMALL.history_len + 1))
    assert 0.1 < lengths[0] / len(cells) < 0.3  # missing cells, still above schema presence
    assert all(re.fullmatch(r"i\d+(\|i\d+)*", c) for c in cells if c)


def test_noise_feature_independent_of_label():
    ranking = synthetic.generate_columns("ranking", 20_000, seed=3, sizes=SMALL)
    retrieval = synthetic.generate_columns("retrieval", 20_000, seed=3, sizes=SMALL)
    np.testing.assert_array_equal(ranking.columns["noise_id"], retrieval.columns["noise_id"])
    label = ranking.columns["clicked"]

    def spread(column):  # max |positive rate - overall| over the 20 most frequent values, in sigmas
        top = [v for v, _ in collections.Counter(column).most_common(20)]
        p = label.mean()
        return max(abs(label[column == v].mean() - p) / np.sqrt(p * (1 - p) / (column == v).sum())
                   for v in top)

    assert spread(ranking.columns["noise_id"]) < 4.0
    assert spread(ranking.columns["item_id"]) > 8.0  # the planted feature does move the label


def test_ranking_label_planted_in_head_items():
    data = synthetic.generate_columns("ranking", 20_000, seed=3, sizes=SMALL)
    label, ranks, params = data.columns["clicked"], data.ranks, data.params
    assert label.dtype == np.int64 and set(np.unique(label)) == {0, 1}
    assert 0.3 < label.mean() < 0.7
    head = ranks["item_id"] < SMALL.num_head_items
    interaction = np.sum(params.item_latent[np.minimum(ranks["item_id"], SMALL.num_head_items - 1)]
                         * params.region_latent[ranks["region"]], axis=1)
    assert _auc(interaction[head], label[head]) > 0.75
    assert abs(_auc(interaction[~head], label[~head]) - 0.5) < 0.05  # tail ids: no interaction


def test_retrieval_label_predictable_from_context():
    data = synthetic.generate_columns("retrieval", 20_000, seed=3, sizes=SMALL)
    label = data.columns["next_item"]
    assert set(label) <= set(data.params.names["item_id"])
    names, head = data.params.names["item_id"], data.ranks["item_id"] < SMALL.num_head_items

    def hits(item_ranks):  # the planted next-item argmax hits the label this often
        logits = synthetic.retrieval_logits(data.params, item_ranks, data.ranks["region"],
                                            SMALL.zipf_exponent)
        return names[np.argmax(logits, axis=1)] == label

    full = hits(data.ranks["item_id"])
    region_only = hits(np.full_like(data.ranks["item_id"], SMALL.num_items - 1))  # a tail item
    popular = collections.Counter(label).most_common(1)[0][1] / len(label)
    assert full.mean() > popular + 0.1
    assert full[head].mean() > region_only[head].mean() + 0.1  # head item ids carry the signal
    assert np.mean(label == data.columns["item_id"]) < 0.1  # not a trivial copy


@pytest.mark.parametrize("task", synthetic.TASKS)
def test_schema_equals_committed(task, tmp_path):
    committed = os.path.join(REPO, "schemas", f"synthetic_{task}", "schema.pbtxt")
    with open(committed, encoding="utf-8") as f:
        text = f.read()
    assert text_format.Parse(text, schema_pb2.Schema()) == synthetic.make_schema(task)
    _, schema_path, _ = synthetic.generate(task, 50, 1, str(tmp_path))
    with open(schema_path, encoding="utf-8") as f:
        assert f.read() == text


@pytest.mark.parametrize("task", synthetic.TASKS)
def test_schema_types_and_transform_feature_spec(task):
    from tensorflow_transform.tf_metadata import schema_utils
    schema = synthetic.make_schema(task)
    types = {f.name: f.type for f in schema.feature}
    label = synthetic.LABELS[task]
    assert all(types[n] == schema_pb2.BYTES for n in synthetic.FEATURES)
    assert types[label] == (schema_pb2.INT if task == "ranking" else schema_pb2.BYTES)
    presence = {f.name: f.presence.min_fraction for f in schema.feature}
    assert presence["history"] < 1.0 and presence[label] == 1.0
    spec = schema_utils.schema_as_feature_spec(schema).feature_spec
    assert set(spec) == set(synthetic.FEATURES) | {label}


def test_csv_validates_against_schema_with_tfdv(tmp_path):
    # What ImportSchemaGen + StatisticsGen + ExampleValidator do in the pipeline.
    tfdv = pytest.importorskip("tensorflow_data_validation")
    for task in synthetic.TASKS:
        csv_path, schema_path, _ = synthetic.generate(task, 400, 0, str(tmp_path / task))
        stats = tfdv.generate_statistics_from_csv(csv_path)
        anomalies = tfdv.validate_statistics(stats, tfdv.load_schema_text(schema_path))
        assert not anomalies.anomaly_info, (task, anomalies)


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="task"):
        synthetic.generate_columns("classification", 10)
    with pytest.raises(ValueError, match="num_head_items"):
        dataclasses.replace(SMALL, num_head_items=SMALL.num_items + 1)
    with pytest.raises(ValueError, match="num_examples"):
        synthetic.generate_columns("ranking", 0)


def test_cli(tmp_path):
    synthetic.main(["--task", "retrieval", "--num-examples", "100", "--num-items", "300",
                    "--num-head-items", "20", "--out-dir", str(tmp_path)])
    with open(tmp_path / "data" / "data.csv", encoding="utf-8") as f:
        assert len(f.read().splitlines()) == 101
    assert (tmp_path / "schema" / "schema.pbtxt").exists() and (tmp_path / "truth.json").exists()
    out = subprocess.run([sys.executable, "-m", "pipelines.data.synthetic", "--help"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout
    assert "--num-examples" in out and "--write-schema" in out
