"""Tests of the streamed large-scale synthetic generator (run on tiny row counts)."""
import glob
import os
import tracemalloc

import numpy as np
import pytest
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from benchmarks.scale import synthetic_stream as ss
from trainer_module.data.features import DatasetConfig

TINY = ss.StreamSizes(num_users=5000, num_items=3000, num_categories=40, num_regions=20,
                      num_devices=3, history_len=4, latent_dim=8,
                      zipf_exponent=1.05)


def _rows(out_dir):
    paths = sorted(glob.glob(os.path.join(out_dir, "data", "*.csv")))
    lines = []
    for path in paths:
        with open(path, encoding="utf-8") as f:
            header, *body = f.read().splitlines()
        assert header.split(",") == list(ss.FEATURES) + [ss.LABEL]
        lines += body
    return paths, lines


def test_shards_hold_the_schemas_columns(tmp_path):
    manifest = ss.write(str(tmp_path), rows=2500, seed=1, num_shards=3, sizes=TINY, chunk_rows=400)
    paths, lines = _rows(str(tmp_path))
    assert len(paths) == 3 and len(lines) == 2500
    cells = [line.split(",") for line in lines]
    assert all(len(c) == len(ss.FEATURES) + 1 for c in cells)
    for i, (name, prefix) in enumerate(zip(ss.FEATURES, "uiicrd")):
        values = [v for c in cells for v in c[i].split(ss.SEPARATOR) if v]
        assert values and all(v[0] == prefix and v[1:].isdigit() for v in values), name
    assert max(len(c[2].split(ss.SEPARATOR)) for c in cells) == TINY.history_len
    assert any(c[2] == "" for c in cells) and {c[-1] for c in cells} == {"0", "1"}
    with open(tmp_path / "schema" / ss.SCHEMA_NAME, encoding="utf-8") as f:
        schema = text_format.Parse(f.read(), schema_pb2.Schema())
    assert [feat.name for feat in schema.feature] == list(ss.FEATURES) + [ss.LABEL]
    config = DatasetConfig.from_dict(manifest["dataset"])
    assert config.names == list(ss.FEATURES) and config.feature(ss.HISTORY).multivalent
    with pytest.raises(FileExistsError, match="part-00000-of-00003.csv exists"):
        ss.write(str(tmp_path), rows=2500, seed=1, num_shards=3, sizes=TINY, chunk_rows=400)
    with pytest.raises(FileExistsError, match="manifest.json exists and describes other data"):
        ss.write(str(tmp_path), rows=2500, seed=2, num_shards=2, sizes=TINY, chunk_rows=400)


def test_rows_depend_on_the_seed_not_on_sharding_or_the_writer(tmp_path):
    kw = dict(rows=1500, sizes=TINY, chunk_rows=200)
    ss.write(str(tmp_path / "a"), seed=4, num_shards=1, **kw)
    ss.write(str(tmp_path / "b"), seed=4, num_shards=4, shards=(0, 2), **kw)  # two writers
    ss.write(str(tmp_path / "b"), seed=4, num_shards=4, shards=(2, 4), **kw)
    ss.write(str(tmp_path / "c"), seed=5, num_shards=1, **kw)
    a, b, c = (_rows(str(tmp_path / k))[1] for k in "abc")
    assert a == b and a != c


def test_ids_are_heavy_tailed_and_tail_ids_carry_signal():
    params = ss.make_params(TINY, seed=0)
    ranks, _, labels = ss.chunk_ranks(params, TINY, 0, 0, 40_000)
    counts = np.bincount(ranks[ss.USER], minlength=TINY.num_users)
    top = np.sort(counts)[::-1]
    assert top[:50].sum() > 0.2 * counts.sum()              # 1% of users: a fifth of the rows
    assert (counts == 1).sum() > 0.2 * (counts > 0).sum()  # and a long tail seen once
    # Every item has a latent vector: the planted interaction predicts clicks on tail items
    # (popularity rank past the 300 most frequent) as well as on the head.
    u, i = ranks[ss.USER], ranks[ss.ITEM]
    score = np.sum(params.user_latent[u] * params.item_latent[i], axis=1)
    for rows in (i < 300, i >= 300):
        assert rows.sum() > 2000 and _auc(score[rows], labels[rows]) > 0.65


def _auc(scores, labels):
    ranks = np.empty(len(scores))
    ranks[np.argsort(scores)] = np.arange(1, len(scores) + 1)
    pos = labels == 1
    return (ranks[pos].sum() - pos.sum() * (pos.sum() + 1) / 2) / (pos.sum() * (~pos).sum())


def test_memory_does_not_grow_with_rows(tmp_path):
    peaks = []
    for rows in (2_000, 20_000):
        tracemalloc.start()
        ss.write(str(tmp_path / str(rows)), rows=rows, sizes=TINY, chunk_rows=1000, num_shards=2)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1.2 * peaks[0], peaks
