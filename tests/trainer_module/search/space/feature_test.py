"""Tests of one feature's Embedding Blocks and choice costs against the paper's Figure 2."""
import numpy as np
import pytest

from trainer_module.search.space.feature import FeatureSearchSpace, default_dim, geometric_dim_chunks

M = 1_000_000


@pytest.fixture
def fig2():
    return FeatureSearchSpace("query", vocab_size=10 * M, dim=256, num_dim_chunks=4)


def test_figure2_grid(fig2):
    assert fig2.block_vocab == (1 * M, 2 * M, 2 * M, 2 * M, 3 * M)
    assert fig2.dim_chunks == (64, 64, 64, 64)
    assert fig2.num_categories("SE") == [21] and fig2.num_categories("ME") == [6] * 4


def test_figure2_se_pick_7m_by_192(fig2):
    levels = fig2.se_levels(fig2.se_category(s=4, t=3))  # Vbar_4 = 7M, Dbar_3 = 192
    assert levels == [4, 4, 4, 0]
    assert fig2.level_cost(levels) == 7 * M * 192
    assert fig2.levels_to_mes(levels).entries == ((7 * M, 192),)


def test_figure2_me_pick(fig2):
    levels = [2, 5, 0, 2]  # chunks 1 and 4 for the first 3M items, chunk 2 for all 10M
    mes = fig2.levels_to_mes(levels)
    assert mes.entries == ((3 * M, 192), (7 * M, 64))
    tables = 3 * M * 192 + 7 * M * 64
    assert fig2.level_cost(levels, "paper_tables_only") == mes.table_floats() == tables
    # exact: plus P_2 (64 x 192), the one projection of the narrower rows
    assert fig2.level_cost(levels) == mes.cost() == tables + 64 * 192


def test_se_zero_pick_removes_feature(fig2):
    assert fig2.se_levels(0) == [0, 0, 0, 0]
    assert fig2.level_cost([0, 0, 0, 0]) == 0 and fig2.levels_to_mes([0] * 4).removed


def test_se_pick_inverts_se_category(fig2):
    picks = [(s, t) for s in range(1, fig2.num_row_blocks + 1) for t in range(1, fig2.num_col_blocks + 1)]
    assert [fig2.se_pick(fig2.se_category(s, t)) for s, t in picks] == picks
    assert fig2.se_pick(0) == (0, 0)


def test_paper_default_dim_and_fractions():
    assert default_dim(10 * M) == 32 * 9  # ceil(10M^0.35 / 32) = 9
    f = FeatureSearchSpace("f", vocab_size=1000)
    assert f.dim == default_dim(1000) == 32 and f.dim_chunks == (1, 1, 2, 4, 8, 16)
    assert f.block_vocab == (100, 200, 200, 200, 300)
    assert FeatureSearchSpace("f", vocab_size=1000, num_dim_chunks=4).dim_chunks == (8, 8, 8, 8)


@pytest.mark.parametrize("dim", [1, 2, 3, 7, 32, 48, 64, 256])
def test_geometric_chunks_sum_to_dim_and_start_at_width_one(dim):
    chunks = geometric_dim_chunks(dim)
    assert sum(chunks) == dim and chunks[0] == 1 and list(chunks) == sorted(chunks)


def test_tiny_vocab_merges_empty_row_blocks():
    f = FeatureSearchSpace("tiny", vocab_size=3)
    assert sum(f.block_vocab) == 3 and all(v >= 1 for v in f.block_vocab)


@pytest.mark.parametrize("kwargs,needle", [
    (dict(vocab_size=0), "vocabulary size"),
    (dict(vocab_size=10, vocab_fractions=(0.5, 0.4)), "sum to 1"),
    (dict(vocab_size=10, vocab_fractions=(1.2, -0.2)), "> 0"),
    (dict(vocab_size=10, dim_chunks=(4, 0)), "dim_chunks"),
    (dict(vocab_size=10, dim=8, dim_chunks=(4, 2)), "not dim 8"),
])
def test_bad_feature_space_names_feature(kwargs, needle):
    with pytest.raises(ValueError, match="'bad'") as err:
        FeatureSearchSpace("bad", **kwargs)
    assert needle in str(err.value)


def test_mes_to_levels_inverts_levels_to_mes_and_rejects_off_grid_mess():
    feature = FeatureSearchSpace("item", vocab_size=1000)
    rng = np.random.default_rng(0)
    for _ in range(30):
        levels = rng.integers(0, feature.num_row_blocks + 1, feature.num_col_blocks).tolist()
        mes = [list(e) for e in feature.levels_to_mes(levels).entries]
        found = feature.mes_to_levels(mes)
        assert found is not None
        assert [list(e) for e in feature.levels_to_mes(found).entries] == mes
        assert feature.level_cost(found) == feature.level_cost(levels)
    assert feature.mes_to_levels([]) == [0] * feature.num_col_blocks
    first_block = feature.block_vocab[0]
    assert feature.mes_to_levels([[first_block, 33]]) is None        # wider than the 32 floats
    assert feature.mes_to_levels([[first_block + 1, 1]]) is None     # not a row-block boundary
