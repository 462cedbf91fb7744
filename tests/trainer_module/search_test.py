"""Tests of the search loop: planted data, resume, retrieval, TensorBoard, bad input."""
import dataclasses
import glob
import os

import numpy as np
import pytest
import tensorflow as tf

import planted_data as pdata
from trainer_module import search as search_lib
from trainer_module.search import NeuralInputSearch, SearchConfig, run_search
from trainer_module.search_space import SearchSpace


def test_short_search_starves_noise_and_feeds_the_predictive_feature(tmp_path):
    space = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=12_000, mode="ME")
    train = pdata.dataset(pdata.ranking_arrays(40_000, seed=0), 256)
    val = pdata.dataset(pdata.ranking_arrays(10_000, seed=1), 1000)
    # 600 search steps: with 300 the emitted MES still gave noise more floats than signal in
    # about one run in three (TF's threaded ops make runs differ).
    cfg = SearchConfig(task="ranking", warmup_steps=150, search_steps=600, log_every=50)
    res = run_search(space, pdata.DATASET, train, val, cfg, log_dir=str(tmp_path / "tb"))
    spec = res.spec
    assert spec.cost() <= 12_000
    signal, noise = spec.features["signal"], spec.features["noise"]
    assert not signal.removed
    assert noise.cost() < signal.cost() / 2, spec.to_json()
    final = spec.metadata["final_selection"]  # best of the measured candidates was emitted
    assert final["candidates"] > 1 and final["examples_per_candidate"] == 8 * 1000
    assert final["screening_examples"] == 2 * 1000 and 1 <= final["finalists"] <= final["candidates"]
    assert final["chosen_objective"] >= final["most_probable_objective"]
    # the controller learned: mean reward in the last logged window beats the first search window
    search_rows = [r for r in res.history if r["phase"] == "search"]
    assert search_rows[-1]["mean_reward"] > search_rows[0]["mean_reward"]
    assert search_rows[-1]["mean_cost_ratio"] <= 1.0
    assert glob.glob(str(tmp_path / "tb" / "events.out.tfevents.*"))
    assert set(res.probabilities) == set(pdata.VOCAB)


def small_search(mode="SE", **overrides):
    space = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=20_000, mode=mode)
    kw = dict(task="ranking", warmup_steps=4, search_steps=8, log_every=2, checkpoint_every=2, seed=3)
    kw.update(overrides)
    return space, SearchConfig(**kw)


def test_killed_search_resumes_from_its_checkpoint(tmp_path):
    space, cfg = small_search()
    train = pdata.dataset(pdata.ranking_arrays(4000, 0), 64)
    val = pdata.dataset(pdata.ranking_arrays(2000, 1), 200)
    ckpt = str(tmp_path / "ckpt")

    def kill_at_6(step):
        if step == 6:
            raise KeyboardInterrupt("killed")
    first = NeuralInputSearch(space, pdata.DATASET, cfg)
    with pytest.raises(KeyboardInterrupt):
        first.run(train, val, checkpoint_dir=ckpt, on_step=kill_at_6)
    saved = [v.numpy() for v in first.controller.trainable_variables]

    second = NeuralInputSearch(space, pdata.DATASET, cfg)
    second.restore(ckpt)
    assert int(second.step.numpy()) == 6
    for a, b in zip(saved, second.controller.trainable_variables):
        np.testing.assert_array_equal(a, b.numpy())
    seen = []
    res = second.run(train, val, checkpoint_dir=ckpt, on_step=seen.append)
    assert seen[0] == 7 and seen[-1] == 12
    assert [r["step"] for r in res.history] == [2, 4, 6, 8, 10, 12]
    assert res.spec.metadata["steps"] == 12


def test_retrieval_search_runs_with_per_example_choices(tmp_path, monkeypatch):
    space = SearchSpace.from_vocab_sizes({"signal": 2000, "noise": 2000, "bag": 40}, budget=20_000)
    train = pdata.dataset(pdata.retrieval_arrays(4000, 0), 128)
    val = pdata.dataset(pdata.retrieval_arrays(2000, 1), 128)
    cfg = SearchConfig(task="retrieval", warmup_steps=3, search_steps=6, log_every=3, num_negatives=100)
    logged = []
    monkeypatch.setattr(search_lib.logging, "info", lambda fmt, *a: logged.append(fmt % a))
    res = run_search(space, pdata.RETRIEVAL_DATASET, train, val, cfg, num_labels=300)
    # One progress line per log step: step / total, phase, ETA (what nis-pipeline prints).
    lines = [line for line in logged if line.startswith("Progress: ")]
    assert [line.split(",")[0] for line in lines] == [
        f"Progress: NeuralInputSearch step {s}/9 ({100 * s / 9:.0f}%)" for s in (3, 6, 9)]
    assert lines[0].split(", ")[1] == "warm-up" and "ETA" in lines[0] and "ETA 0s" in lines[-1]
    assert res.spec.cost() <= 20_000
    last = res.history[-1]
    assert 0.0 <= last["mean_objective"] <= 1.0 and last["mean_cost_ratio"] > 0


def test_retrieval_groups_share_one_configuration_per_group_of_examples():
    space = SearchSpace.from_vocab_sizes({"signal": 2000, "noise": 2000, "bag": 40}, budget=20_000)
    cfg = SearchConfig(task="retrieval", warmup_steps=3, search_steps=4, log_every=2,
                       num_negatives=100, retrieval_group_size=4, final_candidates=4,
                       final_random_candidates=4, final_eval_batches=2)
    search = NeuralInputSearch(space, pdata.RETRIEVAL_DATASET, cfg, num_labels=300)
    assert search._num_choices(130) == 33  # the last, partial group gets its own choice
    actions = search.controller.uniform(33, tf.constant([3, 4], tf.int64))
    levels = search._per_example(search.levels(actions), 130)
    for name, per_example in levels.items():  # example i gets choice i // 4
        expected = np.repeat(search.levels(actions)[name].numpy(), 4, axis=0)[:130]
        np.testing.assert_array_equal(per_example.numpy(), expected)
    train = pdata.dataset(pdata.retrieval_arrays(2000, 0), 130)
    val = pdata.dataset(pdata.retrieval_arrays(1000, 1), 130)
    res = search.run(train, val)
    assert res.spec.cost() <= 20_000
    assert 0.0 <= res.history[-1]["mean_objective"] <= 1.0


def test_fill_budget_widens_the_emitted_se_configuration():
    space, cfg = small_search(budget_masking=True)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    plain = search.result()
    search.config = dataclasses.replace(cfg, fill_budget=True)
    filled = search.result()  # the same controller's pick, then widened
    assert filled.spec.metadata["unfilled_cost"] == plain.spec.cost()
    assert plain.spec.cost() < filled.spec.cost() <= 20_000  # the pick used 1,360 floats
    for name, mes in plain.spec.features.items():
        assert filled.spec.features[name].vocab_size == mes.vocab_size
    assert "unfilled_cost" not in plain.spec.metadata


def test_bad_inputs_fail_before_training():
    space, cfg = small_search()
    with pytest.raises(ValueError, match="cheapest non-empty"):
        NeuralInputSearch(SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=4), pdata.DATASET, cfg)
    with pytest.raises(ValueError, match="task 'retrieval' differs"):
        NeuralInputSearch(space, pdata.DATASET, SearchConfig(task="retrieval"))
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    val = pdata.dataset(pdata.ranking_arrays(500, 1), 150)
    with pytest.raises(ValueError, match="validation batch size 150 is not a multiple of group_size 100"):
        search.run(val, val)
    bad = SearchSpace.from_vocab_sizes({"signal": 10, "unknown_feat": 10}, budget=1000)
    with pytest.raises(ValueError, match="unknown_feat"):
        NeuralInputSearch(bad, pdata.DATASET, cfg)


def test_search_config_json_round_trip_and_validation():
    cfg = SearchConfig(task="retrieval", warmup_steps=3, hidden_units=[8, 4])
    assert SearchConfig.from_json(cfg.to_json()) == cfg
    with pytest.raises(ValueError, match="unknown search option"):
        SearchConfig.from_json('{"warmup": 3}')
    with pytest.raises(ValueError, match="group_size"):
        SearchConfig(group_size=0)
    with pytest.raises(ValueError, match="retrieval_group_size must be >= 1"):
        SearchConfig(task="retrieval", retrieval_group_size=0)
    with pytest.raises(ValueError, match="decision_order must be one of"):
        SearchConfig(decision_order="backwards")
    with pytest.raises(ValueError, match="budget_reserve"):
        SearchConfig(budget_reserve=-1.0)


def test_chunk_decision_order_maps_controller_choices_back_to_the_space():
    space, cfg = small_search("ME", decision_order="chunk")
    order = space.controller_order("chunk")
    assert order != sorted(order)  # a real permutation for this space
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    assert search.controller.decision_sizes == [space.decision_sizes()[k] for k in order]
    acts = np.array([[np.random.default_rng(k).integers(n) for k, n in enumerate(space.decision_sizes())]])
    np.testing.assert_array_equal(search._to_space(search._to_controller(acts)), acts)
    res = search.run(pdata.dataset(pdata.ranking_arrays(4000, 0), 64),
                     pdata.dataset(pdata.ranking_arrays(2000, 1), 200))
    assert res.spec.cost() <= space.budget
    assert all(r["most_probable_cost_ratio"] <= 1.0 for r in res.history)
    for f, sl in zip(space.features, space.decision_slices()):
        probs = res.probabilities[f.name]
        assert [len(p) for p in probs] == space.decision_sizes()[sl]
        assert all(abs(sum(p) - 1.0) < 1e-4 for p in probs)


@pytest.mark.parametrize("order", ["random", "chunk"])
def test_budget_reserve_is_released_at_each_features_first_controller_decision(order):
    space, cfg = small_search("ME", decision_order=order, budget_reserve=1.0)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    reserves = search.controller.policy.reserves.numpy()
    firsts = {sl.start: f for f, sl in zip(space.features, space.decision_slices())}
    for j, k in enumerate(search._order):
        want = firsts[k].min_nonempty_cost() / space.budget if k in firsts else 0.0
        assert reserves[j] == pytest.approx(want)
    # Held in all at most half the budget.
    tight = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=500, mode="ME")
    held = NeuralInputSearch(tight, pdata.DATASET, cfg).controller.policy.reserves.numpy()
    assert held.sum() == pytest.approx(0.5)


def test_random_decision_order_search_emits_a_within_budget_mes_in_the_spaces_order(tmp_path):
    space, cfg = small_search("ME", decision_order="random")
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    assert search.controller.shuffle_groups == [6, 6, 6]      # features shuffled, chunks together
    assert search.controller.decision_sizes == space.decision_sizes()
    res = search.run(pdata.dataset(pdata.ranking_arrays(4000, 0), 64),
                     pdata.dataset(pdata.ranking_arrays(2000, 1), 200), checkpoint_dir=str(tmp_path))
    assert res.spec.cost() <= space.budget
    assert all(r["most_probable_cost_ratio"] <= 1.0 for r in res.history)
    for f, sl in zip(space.features, space.decision_slices()):
        assert [len(p) for p in res.probabilities[f.name]] == space.decision_sizes()[sl]
    # A resumed shuffled search restores its controller (its choice embeddings have one more row).
    again = NeuralInputSearch(space, pdata.DATASET, cfg)
    again.restore(str(tmp_path))
    assert int(again.step.numpy()) == cfg.warmup_steps + cfg.search_steps


def test_final_selection_scores_random_candidates_beside_the_controllers():
    space, cfg = small_search("ME", final_random_candidates=64, final_eval_batches=4)
    res = run_search(space, pdata.DATASET, pdata.dataset(pdata.ranking_arrays(4000, 0), 64),
                     pdata.dataset(pdata.ranking_arrays(2000, 1), 200), cfg)
    final = res.spec.metadata["final_selection"]
    assert 0 < final["random_candidates"] <= 64
    assert final["candidates"] > final["random_candidates"]   # the controller's are there too
    assert final["chosen_from"] in ("controller", "random")
    assert final["chosen_objective"] >= final["most_probable_objective"]
    assert res.spec.cost() <= space.budget
