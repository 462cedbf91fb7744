"""The scale side runs' pure logic: fine row blocks and uniform widths over whole blocks."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from benchmarks import scale_side  # noqa: E402
from trainer_module.search.space import SearchSpace  # noqa: E402

VOCAB = {"user_id": 200_000, "item_id": 50_000, "device": 8}


def test_fine_rows_only_for_large_features():
    assert scale_side.space_overrides(VOCAB, "paper") is None
    over = scale_side.space_overrides(VOCAB, "fine")
    assert over == {"user_id": {"vocab_fractions": scale_side.FINE_FRACTIONS}}
    space = SearchSpace.from_vocab_sizes(VOCAB, 100_000, overrides=over)
    assert space.feature("user_id").cum_vocab[1] == 2_000   # 1% of the users
    assert space.feature("item_id").cum_vocab[1] == 5_000   # the paper's 10%


def test_block_widths_round_the_grid_down_to_whole_blocks():
    space = SearchSpace.from_vocab_sizes(VOCAB, 1, mode="ME")
    # width 4 within 400,000 floats keeps 100,000 of 250,008 ids: whole blocks only
    mes = scale_side.block_widths(space, 400_000, 4)
    for f in space.features:
        rows = mes[f.name][0][0] if mes[f.name] else 0
        assert rows in f.cum_vocab
    assert sum(e[0] * e[1] for v in mes.values() for e in v) <= 400_000
    # a width whose kept rows end inside the first block removes the feature
    assert scale_side.block_widths(space, 16 * 1_000, 16)["user_id"] == []


def test_unknown_side_run_is_refused_before_any_data_work(tmp_path):
    with pytest.raises(SystemExit):
        scale_side.main(["--work-dir", str(tmp_path), "--what", "nis-ME-coarse"])
    assert not os.listdir(tmp_path)


def test_malformed_option_is_refused_before_any_data_work(tmp_path):
    with pytest.raises(SystemExit):
        scale_side.main(["--work-dir", str(tmp_path), "--what", "nis-SE-fine",
                         "--option", "search_epochs"])
    assert not os.listdir(tmp_path)


@pytest.mark.parametrize("option", ["prune_widths=true", "no_such_option=1"])
def test_option_the_search_rejects_is_refused_before_any_data_work(tmp_path, monkeypatch, option):
    def load(*args):
        raise AssertionError("data work started")
    monkeypatch.setattr(scale_side, "load", load)
    with pytest.raises(SystemExit):
        scale_side.main(["--work-dir", str(tmp_path), "--what", "nis-SE-fine", "--option", option])
