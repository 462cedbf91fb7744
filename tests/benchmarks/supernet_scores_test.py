"""The MES -> level-vector inverse used to score saved MESs on a trained supernet."""
import numpy as np

from benchmarks.supernet_scores import mes_to_levels
from trainer_module.search_space import SearchSpace


def test_mes_to_levels_inverts_levels_to_mes_and_rejects_off_grid_widths():
    feature = SearchSpace.from_vocab_sizes({"item": 1000}, budget=5000).feature("item")
    rng = np.random.default_rng(0)
    for _ in range(30):
        levels = rng.integers(0, feature.num_row_blocks + 1, feature.num_col_blocks).tolist()
        mes = [list(e) for e in feature.levels_to_mes(levels).entries]
        found = mes_to_levels(feature, mes)
        assert found is not None
        assert [list(e) for e in feature.levels_to_mes(found).entries] == mes
        assert feature.level_cost(found) == feature.level_cost(levels)
    assert mes_to_levels(feature, []) == [0] * feature.num_col_blocks
    first_block = feature.block_vocab[0]
    assert mes_to_levels(feature, [[first_block, 33]]) is None        # wider than the 32 floats
    assert mes_to_levels(feature, [[first_block + 1, 1]]) is None     # not a row-block boundary
