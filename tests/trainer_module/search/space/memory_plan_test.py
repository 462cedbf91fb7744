"""Tests of the search's memory plan: counts, the limit check and where the plan is kept."""
import numpy as np
import pytest
import tensorflow as tf

import planted_data as pdata
from trainer_module.search.space import budget
from trainer_module.search.space import memory_plan
from trainer_module.model.models import build_model
from trainer_module.search.search import NeuralInputSearch, SearchConfig
from trainer_module.search.config import SearchResult
from trainer_module.search.space import SearchSpace

HIDDEN = (32, 16)


def _floats(model) -> int:
    return sum(int(np.prod(v.shape)) for v in model.trainable_variables)


@pytest.mark.parametrize("mode,dataset,num_labels", [
    ("ME", pdata.DATASET, None), ("SE", pdata.DATASET, None),
    ("ME", pdata.RETRIEVAL_DATASET, 300)])
def test_plan_counts_the_built_supernet_and_bounds_the_final_model(mode, dataset, num_labels):
    vocab = pdata.VOCAB if num_labels is None else {"signal": 2000, "noise": 2000, "bag": 40}
    space = SearchSpace.from_vocab_sizes(vocab, budget=20_000, mode=mode)
    task = "ranking" if num_labels is None else "retrieval"
    search = NeuralInputSearch(space, dataset, SearchConfig(task=task, hidden_units=HIDDEN),
                               num_labels=num_labels)
    plan = memory_plan.plan(space, HIDDEN, num_labels)
    assert plan["supernet_bytes"] == 4 * _floats(search.model)
    assert plan["supernet_slot_bytes"] == 2 * plan["supernet_bytes"]
    assert plan["total_bytes"] == (plan["supernet_bytes"] + plan["supernet_slot_bytes"]
                                   + plan["final_model_bytes"])
    # Every within-budget MES, retrained with its optimizer slots, fits the final-model bound;
    # the richest one comes within a few percent of it.
    sizes = []
    for actions in budget.random_feasible(space, 6, seed=0):
        model = build_model(dataset, space.to_spec(actions), num_labels, hidden_units=HIDDEN)
        model({f.name: tf.zeros([1, f.max_len], tf.int64) for f in dataset.features})
        sizes.append(3 * 4 * _floats(model))
    assert max(sizes) <= plan["final_model_bytes"]
    assert max(sizes) > 0.5 * plan["final_model_bytes"]


def test_check_names_what_to_change_and_honours_the_limit_settings(monkeypatch):
    plan = {"supernet_bytes": 4 << 30, "supernet_slot_bytes": 8 << 30,
            "final_model_bytes": 1 << 30, "total_bytes": 13 << 30}
    with pytest.raises(ValueError, match=r"memory plan: 13.00 GiB .* exceeds memory_limit_bytes="
                                         r"\d+ \(12.00 GiB\): lower the budget, the features' "
                                         r"maximum width"):
        memory_plan.check(plan, 12 << 30)
    assert memory_plan.check(plan, 13 << 30)["limit_bytes"] == 13 << 30  # at the limit: fits
    assert memory_plan.check(plan, 0)["limit_bytes"] == 0  # 0: no check
    monkeypatch.setattr(memory_plan, "machine_memory_bytes", lambda: 10 << 30)
    with pytest.raises(ValueError, match=r"\(8.00 GiB\)"):  # None: 80% of the machine's RAM
        memory_plan.check(plan, None)
    with pytest.raises(ValueError, match="memory_limit_bytes must be >= 0"):
        SearchConfig(memory_limit_bytes=-1)


def test_search_stops_before_building_and_keeps_its_plan_in_the_results(monkeypatch):
    space = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=20_000, mode="SE")
    cfg = SearchConfig(hidden_units=HIDDEN, memory_limit_bytes=1000, warmup_steps=0,
                       search_steps=0)
    built = []
    monkeypatch.setattr("trainer_module.search.search.build_supernet",
                        lambda *a, **k: built.append(1))
    with pytest.raises(ValueError, match="exceeds memory_limit_bytes=1000"):
        NeuralInputSearch(space, pdata.DATASET, cfg)
    assert not built  # failed before any table was allocated
    monkeypatch.undo()
    search = NeuralInputSearch(space, pdata.DATASET, SearchConfig(hidden_units=HIDDEN))
    result = search.result()
    expected = memory_plan.plan(space, HIDDEN)
    assert {k: result.memory_plan[k] for k in expected} == expected
    assert result.memory_plan["limit_bytes"] > 0
    assert SearchResult.from_json(result.to_json()).memory_plan == result.memory_plan
