"""Warm start: projecting a previous MES onto a new space, the saved controller, the budget."""
import numpy as np
import pytest

import planted_data as pdata
from trainer_module.search import warm_start
from trainer_module.search.controller import Controller
from trainer_module.search.search import SearchConfig, run_search
from trainer_module.search.space import SearchSpace
from trainer_module.spec.mes import FeatureMES, ModelSpec

EQUAL = {"num_dim_chunks": 4, "dim": 16}


def _space(vocab, mode="ME", budget=20_000):
    return SearchSpace.from_vocab_sizes(vocab, budget=budget, mode=mode,
                                        overrides={n: EQUAL for n in vocab})


@pytest.mark.parametrize("mode", ["ME", "SE"])
def test_projection_reproduces_an_mes_of_the_same_space(mode):
    space = _space(pdata.VOCAB, mode)
    actions = np.random.default_rng(0).integers(0, space.decision_sizes())
    spec = space.to_spec(actions)
    assert space.to_spec(warm_start.project(space, spec)).features == spec.features


def test_projection_follows_frequency_rank_when_vocabularies_change():
    old = ModelSpec(budget=20_000, mode="ME", features={
        "signal": FeatureMES([(400, 16), (1600, 4)]), "noise": FeatureMES([]),
        "gone": FeatureMES([(10, 4)])})
    grown = _space({"signal": 4000, "noise": 2000, "new": 100})
    spec = grown.to_spec(warm_start.project(grown, old))
    # Every row keeps (at most) its previous width by frequency rank; rows past the
    # previous vocabulary and unknown features start empty.
    widths = [d for rows, d in spec.features["signal"].entries for _ in range(rows)]
    assert widths[0] == 16 and all(d <= 4 for d in widths[400:2000])
    assert len(widths) <= 2000
    assert spec.features["noise"].removed and spec.features["new"].removed


def test_saved_controller_restores_only_into_the_same_decisions(tmp_path):
    space, cfg = _space(pdata.VOCAB), SearchConfig(task="ranking", warmup_steps=2, search_steps=4,
                                                   log_every=2, final_candidates=0)
    data = pdata.dataset(pdata.ranking_arrays(4000, 0), 64)
    val = pdata.dataset(pdata.ranking_arrays(2000, 1), 1000)
    first = run_search(space, pdata.DATASET, data, val, cfg, controller_dir=str(tmp_path / "c"))
    # A warm search with no steps emits from the restored controller: the same distributions.
    cold = SearchConfig(task="ranking", warmup_steps=0, search_steps=0, final_candidates=0, seed=9)
    warm = run_search(space, pdata.DATASET, data, val, cold,
                      warm_start=warm_start.WarmStart(first.spec, str(tmp_path / "c")))
    assert warm.probabilities == pytest.approx(first.probabilities, abs=1e-5)
    fresh = run_search(space, pdata.DATASET, data, val, cold)
    assert fresh.probabilities != pytest.approx(first.probabilities, abs=1e-5)
    # Row blocks are vocabulary fractions: grown vocabularies keep the decisions ...
    grown = _space({n: 3 * v for n, v in pdata.VOCAB.items()})
    assert warm_start.saved_decision_sizes(str(tmp_path / "c")) == grown.decision_sizes()
    # ... a new feature does not, and the controller then starts fresh.
    other = _space({**pdata.VOCAB, "extra": 50})
    assert not warm_start.restore_controller(Controller(other.decision_sizes()), other,
                                             str(tmp_path / "c"))


def test_warm_start_keeps_the_budget_when_vocabularies_grew(tmp_path):
    small = _space(pdata.VOCAB, budget=60_000)
    previous = small.to_spec([small.decision_sizes()[0] - 1] * len(small.decision_sizes()))
    grown = _space({n: v * 4 for n, v in pdata.VOCAB.items()}, budget=20_000)
    assert grown.cost(warm_start.project(grown, previous)) > grown.budget  # projection too big
    cfg = SearchConfig(task="ranking", warmup_steps=2, search_steps=2, log_every=2,
                       final_candidates=2, final_random_candidates=2, final_eval_batches=2)
    data = pdata.dataset(pdata.ranking_arrays(4000, 0), 64)
    val = pdata.dataset(pdata.ranking_arrays(2000, 1), 1000)
    res = run_search(grown, pdata.DATASET, data, val, cfg,
                     warm_start=warm_start.WarmStart(previous, None))
    assert res.spec.cost() <= 20_000
    assert 0 < res.spec.metadata["warm_start_cost"] <= 20_000  # repaired into the budget
    assert "warm_start_chosen" in res.spec.metadata
