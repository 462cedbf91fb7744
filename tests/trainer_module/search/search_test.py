"""Tests of the search loop: planted data, resume, retrieval, TensorBoard, bad input."""
import dataclasses
import glob
import os

import numpy as np
import pytest
import tensorflow as tf

import planted_data as pdata
from trainer_module.search.space import budget as budget_lib
from trainer_module.search import checkpointing
from trainer_module.search import final_selection as selection
from trainer_module.search.search import NeuralInputSearch, SearchConfig, run_search
from trainer_module.search.space import SearchSpace


def test_short_search_controller_learns_to_starve_noise_and_feed_the_predictive_feature(tmp_path):
    space = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=12_000, mode="ME")
    train = pdata.dataset(pdata.ranking_arrays(40_000, seed=0), 256)
    val = pdata.dataset(pdata.ranking_arrays(10_000, seed=1), 1000)
    # No final selection: the emitted MES is the controller's own most probable choice, so
    # the assertions below hold only if the controller learned (not a lucky measured candidate).
    cfg = SearchConfig(task="ranking", warmup_steps=50, search_steps=200, log_every=50,
                       final_candidates=0)
    tf.keras.utils.set_random_seed(0)
    untrained = policy_facts(NeuralInputSearch(space, pdata.DATASET, cfg).controller, space)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    res = search.run(train, val, log_dir=str(tmp_path / "tb"))
    spec = res.spec
    assert glob.glob(str(tmp_path / "tb" / "events.out.tfevents.*"))
    assert set(res.probabilities) == set(pdata.VOCAB)
    assert spec.metadata["budget_fallback"] is False and "final_selection" not in spec.metadata
    signal, noise = spec.features["signal"], spec.features["noise"]
    assert not signal.removed
    assert noise.cost() < signal.cost() / 2, spec.to_json()
    # Budget masking with signal decided first starves noise in most configurations even
    # under a uniform policy, so the emitted MES alone says little: the policy itself must have
    # decided (its entropy over sampled configurations fell) and moved the floats it spends
    # from noise to signal (docs/decisions.md#paired-rewards).
    trained = policy_facts(search.controller, space)
    assert trained["entropy"] < 0.8 * untrained["entropy"], (trained, untrained)
    assert trained["noise_share"] < 0.8 * untrained["noise_share"], (trained, untrained)


def policy_facts(controller, space, samples: int = 500) -> dict:
    """Mean per-decision entropy of ``samples`` configurations sampled from ``controller`` and
    the share of their floats that goes to the ``noise`` feature."""
    rollout = controller.rollout(samples, tf.constant([0, 99], tf.int64))
    log_sm = tf.nn.log_softmax(rollout.logits)
    entropy = float(tf.reduce_mean(-tf.reduce_sum(tf.exp(log_sm) * log_sm, axis=-1)))
    specs = [space.to_spec(a) for a in rollout.actions.numpy()]
    noise = sum(spec.features["noise"].cost() for spec in specs)
    total = sum(f.cost() for spec in specs for f in spec.features.values())
    return {"entropy": entropy, "noise_share": noise / total}


def masked_search_facts(res, budget: int) -> None:
    """What budget masking guarantees beyond ``budget.checked`` (which raises on any emitted
    MES over budget): the controller's most probable configuration was within budget at every
    logged step and at the end (no fallback repair), and every sampled one was too."""
    assert res.spec.metadata["budget_fallback"] is False
    for row in res.history:
        assert row["most_probable_cost_ratio"] <= 1.0, row
        assert row["mean_cost_ratio"] is None or row["mean_cost_ratio"] <= 1.0, row


def small_search(mode="SE", **overrides):
    space = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=20_000, mode=mode)
    kw = dict(task="ranking", warmup_steps=4, search_steps=8, log_every=2, checkpoint_every=2, seed=3)
    kw.update(overrides)
    return space, SearchConfig(**kw)


def test_killed_search_resumes_from_its_checkpoint(tmp_path, monkeypatch):
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
    second.checkpointer(ckpt).restore()
    assert int(second.step.numpy()) == 6
    for a, b in zip(saved, second.controller.trainable_variables):
        np.testing.assert_array_equal(a, b.numpy())
    seen, logged = [], []
    monkeypatch.setattr(checkpointing.logging, "info", lambda fmt, *a: logged.append(fmt % a))
    res = second.run(train, val, checkpoint_dir=ckpt, on_step=seen.append)
    assert seen == [8, 10, 12]                      # on_step after each compiled chunk
    # One progress line per log step (what nis-pipeline prints), timed from the resumed step.
    lines = [line for line in logged if line.startswith("Progress: ")]
    assert lines[0].startswith("Progress: NeuralInputSearch resumed at step 6 from ")  # visible
    lines = lines[1:]
    assert [line.split(",")[0] for line in lines] == [
        f"Progress: NeuralInputSearch step {s}/12 ({100 * s / 12:.0f}%)" for s in (8, 10, 12)]
    assert lines[0].split(", ")[1] == "search" and "ETA" in lines[0] and "ETA 0s" in lines[-1]
    assert [r["step"] for r in res.history] == [2, 4, 6, 8, 10, 12]
    assert res.spec.metadata["steps"] == 12


def test_retrieval_search_step_gives_every_example_its_own_configuration():
    space = SearchSpace.from_vocab_sizes({"signal": 2000, "noise": 2000, "bag": 40}, budget=20_000)
    cfg = SearchConfig(task="retrieval", warmup_steps=0, search_steps=1, num_negatives=100)
    search = NeuralInputSearch(space, pdata.RETRIEVAL_DATASET, cfg, num_labels=300)
    seen, rewards = [], []
    forward, losses_from = search.model.forward, search.controller.losses_from
    search.model.forward = lambda x, levels: seen.append(levels) or forward(x, levels)
    search.controller.losses_from = (lambda r, reward, valid: rewards.append(reward)
                                     or losses_from(r, reward, valid))
    x, y = next(iter(pdata.dataset(pdata.retrieval_arrays(128, 0), 128)))
    xv, yv = next(iter(pdata.dataset(pdata.retrieval_arrays(96, 1), 96)))
    search.steps.controller_step(x, y, xv, yv, search.step)  # eagerly, so the spies see the tensors
    train_levels, val_levels = seen[-2], seen[-1]
    assert train_levels["signal"].shape[0] == 128 and val_levels["signal"].shape[0] == 96
    rows = np.concatenate([val_levels[f.name].numpy() for f in space.features], axis=1)
    assert len({tuple(r) for r in rows}) > 90      # one sampled configuration per example
    assert rewards[-1].shape == (96,)              # and one reward per example


def test_retrieval_groups_share_one_configuration_per_group_of_examples():
    space = SearchSpace.from_vocab_sizes({"signal": 2000, "noise": 2000, "bag": 40}, budget=20_000)
    cfg = SearchConfig(task="retrieval", warmup_steps=3, search_steps=4, log_every=2,
                       num_negatives=100, retrieval_group_size=4, final_candidates=4,
                       final_random_candidates=4, final_eval_batches=2)
    search = NeuralInputSearch(space, pdata.RETRIEVAL_DATASET, cfg, num_labels=300)
    assert search.steps.num_choices(130) == 33  # the last, partial group gets its own choice
    actions = search.controller.uniform(33, tf.constant([3, 4], tf.int64))
    levels = search.steps.per_example(search.steps.levels(actions), 130)
    for name, per_example in levels.items():  # example i gets choice i // 4
        expected = np.repeat(search.steps.levels(actions)[name].numpy(), 4, axis=0)[:130]
        np.testing.assert_array_equal(per_example.numpy(), expected)
    train = pdata.dataset(pdata.retrieval_arrays(2000, 0), 130)
    val = pdata.dataset(pdata.retrieval_arrays(1000, 1), 130)
    res = search.run(train, val)
    masked_search_facts(res, 20_000)
    assert 0.0 <= res.history[-1]["mean_objective"] <= 1.0


def test_fill_budget_widens_the_emitted_se_configuration():
    tf.keras.utils.set_random_seed(0)  # the untrained controller's pick, whatever ran before
    space, cfg = small_search(budget_masking=True)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    plain = search.result()
    search.config = dataclasses.replace(cfg, fill_budget=True)
    filled = search.result()  # the same controller's pick, then widened
    assert filled.spec.metadata["unfilled_cost"] == plain.spec.cost()
    assert plain.spec.cost() < filled.spec.cost() <= 20_000  # the pick uses 9,240 floats
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
        SearchConfig(decision_order="chunk")  # retired: no longer an option


def test_random_decision_order_search_emits_a_within_budget_mes_in_the_spaces_order(tmp_path):
    space, cfg = small_search("ME", decision_order="random")
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    assert search.controller.shuffle_groups == [6, 6, 6]      # features shuffled, chunks together
    assert search.controller.decision_sizes == space.decision_sizes()
    res = search.run(pdata.dataset(pdata.ranking_arrays(4000, 0), 64),
                     pdata.dataset(pdata.ranking_arrays(2000, 1), 200), checkpoint_dir=str(tmp_path))
    masked_search_facts(res, space.budget)
    for f, sl in zip(space.features, space.decision_slices()):
        assert [len(p) for p in res.probabilities[f.name]] == space.decision_sizes()[sl]
    # A resumed shuffled search restores its controller (its choice embeddings have one more row).
    again = NeuralInputSearch(space, pdata.DATASET, cfg)
    again.checkpointer(str(tmp_path)).restore()
    assert int(again.step.numpy()) == cfg.warmup_steps + cfg.search_steps


def test_final_selection_emits_the_candidate_it_measured_best(monkeypatch):
    raced = {}
    race = selection.race

    def spy(candidates, score, batches, **kw):
        best, info = race(candidates, score, batches, **kw)
        raced.update(candidates=list(candidates), best=best)
        return best, info
    monkeypatch.setattr(selection, "race", spy)
    space, cfg = small_search("ME", final_random_candidates=64, final_eval_batches=4)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    val = pdata.dataset(pdata.ranking_arrays(2000, 1), 200, repeat=False)  # same batches each pass
    res = search.run(pdata.dataset(pdata.ranking_arrays(4000, 0), 64), val)
    final = res.spec.metadata["final_selection"]
    assert 0 < final["random_candidates"] <= 64
    assert final["candidates"] > final["random_candidates"]   # the controller's are there too
    # The emitted MES is the race's winner (not its first candidate), and re-measured on the
    # same batches the winner and the controller's most probable configuration score what the
    # race reported for them.
    winner = raced["candidates"][raced["best"]]
    assert raced["best"] != 0, "the most probable won: this run cannot tell winner from first"
    assert res.spec.to_dict()["features"] == space.to_spec(winner).to_dict()["features"]
    batches = list(val.take(4))
    assert np.mean(search.steps.scores(winner, batches)) == pytest.approx(final["chosen_objective"], abs=1e-6)
    greedy = search.controller.greedy()  # the controller decides in the space's order
    np.testing.assert_array_equal(raced["candidates"][0], greedy)
    assert np.mean(search.steps.scores(greedy, batches)) == pytest.approx(
        final["most_probable_objective"], abs=1e-6)


def test_controller_is_frozen_during_warmup_and_trained_after_it():
    space, cfg = small_search("ME", warmup_steps=4, search_steps=2, final_candidates=0)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    start = [v.numpy().copy() for v in search.controller.trainable_variables]
    snap = {}

    def at(step):
        if step == cfg.warmup_steps:
            snap["warm"] = [v.numpy().copy() for v in search.controller.trainable_variables]
            snap["supernet_moved"] = any(
                np.any(v.numpy() != s) for v, s in zip(search.model.trainable_variables, supernet))
    supernet = [v.numpy().copy() for v in search.model.trainable_variables]
    search.run(pdata.dataset(pdata.ranking_arrays(2000, 0), 64),
               pdata.dataset(pdata.ranking_arrays(2000, 1), 200), on_step=at)
    assert snap["supernet_moved"]                    # warm-up trained the supernet ...
    for a, b in zip(start, snap["warm"]):            # ... and left the controller as it was
        np.testing.assert_array_equal(a, b)
    after = [v.numpy() for v in search.controller.trainable_variables]
    assert any(np.any(a != b) for a, b in zip(snap["warm"], after))   # the search steps train it


@pytest.mark.parametrize("saved", [True, False])
def test_search_killed_between_rows_and_checkpoint_resumes_with_every_row_once(
        tmp_path, monkeypatch, saved):
    # A kill right after the checkpoint at step 6 was written (saved) or right before it: the
    # resumed search logs every row once, none missing and none twice.
    space, cfg = small_search()
    train = pdata.dataset(pdata.ranking_arrays(4000, 0), 64)
    val = pdata.dataset(pdata.ranking_arrays(2000, 1), 200)
    ckpt = str(tmp_path / "ckpt")
    save = tf.train.CheckpointManager.save

    def killed_at_6(manager, checkpoint_number=None, **kw):
        if checkpoint_number == 6 and saved:
            save(manager, checkpoint_number=checkpoint_number, **kw)
        if checkpoint_number == 6:
            raise KeyboardInterrupt("killed")
        return save(manager, checkpoint_number=checkpoint_number, **kw)
    monkeypatch.setattr(tf.train.CheckpointManager, "save", killed_at_6)
    with pytest.raises(KeyboardInterrupt):
        NeuralInputSearch(space, pdata.DATASET, cfg).run(train, val, checkpoint_dir=ckpt)
    monkeypatch.setattr(tf.train.CheckpointManager, "save", save)
    second = NeuralInputSearch(space, pdata.DATASET, cfg)
    res = second.run(train, val, checkpoint_dir=ckpt)
    assert [r["step"] for r in res.history] == [2, 4, 6, 8, 10, 12]


def test_papers_unmasked_search_runs_end_to_end_on_the_cost_loss():
    # The paper's elements (docs/architecture.md): 4 equal dim chunks, unmasked sampling,
    # the converged choice, unbounded logits, no budget input. The budget is tight, so
    # unmasked samples overshoot it and the cost loss enters their reward.
    space = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=6_000, mode="ME",
                                         overrides={n: {"num_dim_chunks": 4} for n in pdata.VOCAB})
    cfg = SearchConfig(task="ranking", warmup_steps=4, search_steps=6, log_every=3, seed=3,
                       budget_masking=False, final_candidates=0, logit_bound=0.0,
                       budget_input=False)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    assert not search.controller.policy.masked and search.controller.policy.spent_embedding is None
    res = search.run(pdata.dataset(pdata.ranking_arrays(2000, 0), 64),
                     pdata.dataset(pdata.ranking_arrays(2000, 1), 200))
    rows = [r for r in res.history if r["phase"] == "search"]
    assert rows and all(r["mean_cost_ratio"] > 1.0 for r in rows)     # samples over budget ...
    for r in rows:                                                     # ... pay the cost loss
        assert r["mean_reward"] == pytest.approx(
            r["mean_objective"] - (r["mean_cost_ratio"] - 1.0), abs=0.15), r
        assert r["mean_reward"] < r["mean_objective"] - 0.1
    assert "final_selection" not in res.spec.metadata
    assert all(len(f.dim_chunks) == 4 for f in space.features)
    table_floats = sum(v * d for f in res.spec.to_dict()["features"].values() for v, d in f)
    assert table_floats <= 6_000


def test_controller_steps_follow_every_controller_every_th_main_step():
    space, cfg = small_search("ME", warmup_steps=2, search_steps=7, controller_every=3,
                              final_candidates=0, steps_per_call=1)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    calls = []
    steps = search.steps
    search_fn, main_fn, warm_fn = steps.controller_step_fn, steps.main_fn, steps.warmup_fn
    steps.warmup_fn = lambda *a: calls.append("w") or warm_fn(*a)
    steps.controller_step_fn = lambda *a: calls.append("c") or search_fn(*a)
    steps.main_fn = lambda *a: calls.append(f"m{int(a[-2])}") or main_fn(*a)
    search.run(pdata.dataset(pdata.ranking_arrays(2000, 0), 64),
               pdata.dataset(pdata.ranking_arrays(2000, 1), 200))
    # steps 2, 5, 8 update the controller; the main steps between read the rows that
    # the last controller pass sampled for them, in turn
    assert calls == ["w", "w", "c", "m0", "m1", "c", "m0", "m1", "c"]


def test_main_step_trains_under_the_rows_the_controller_pass_sampled_for_it():
    space, cfg = small_search("ME", warmup_steps=0, search_steps=1, controller_every=3)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    x, y = next(iter(pdata.dataset(pdata.ranking_arrays(200, 0), 200)))
    n = search.steps.num_choices(200)
    upcoming = search.controller.uniform(2 * n, tf.constant([5, 6], tf.int64))
    seen, forward = [], search.model.forward
    search.model.forward = lambda xs, levels: seen.append(levels) or forward(xs, levels)
    search.steps.main(x, y, upcoming, tf.constant(1), search.step)  # eagerly, so the spy sees the levels
    expected = search.steps.per_example(search.steps.levels(upcoming[n:2 * n]), 200)
    for name, levels in expected.items():
        np.testing.assert_array_equal(seen[-1][name].numpy(), levels.numpy())


def test_search_length_scales_to_search_epochs_of_the_train_split():
    cfg = SearchConfig(warmup_steps=200, search_steps=1200, search_epochs=0.5)
    assert cfg.for_train_examples(80_000, 256) == cfg            # 157 batches: the floor holds
    big = cfg.for_train_examples(2_400_000, 256)                 # 0.5 epoch = 4,688 batches
    assert (big.warmup_steps, big.search_steps) == (2_344, 2_344)  # half of it warm-up
    kept = dataclasses.replace(cfg, scaled_warmup_share=None).for_train_examples(2_400_000, 256)
    assert kept.warmup_steps + kept.search_steps == 4_688
    assert kept.warmup_steps == round(200 * 4_688 / 1_400)       # None: the warm-up keeps its share
    with pytest.raises(ValueError, match="scaled_warmup_share"):
        SearchConfig(scaled_warmup_share=1.0)
    assert SearchConfig(search_epochs=0).for_train_examples(10**9, 256).search_steps == 1200
    with pytest.raises(ValueError, match="controller_every"):
        SearchConfig(controller_every=0)
    assert [SearchConfig(warmup_steps=2, controller_every=3).is_controller_step(s)
            for s in range(9)] == [False, False, True, False, False, True, False, False, True]


def test_scoring_many_candidates_at_once_gives_each_ones_own_scores():
    # The final selection scores its candidates in one call per batch; the values must be
    # those of scoring each candidate on its own, to the bit (the race compares them).
    space, cfg = small_search("ME", final_candidates=0)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    search.run(pdata.dataset(pdata.ranking_arrays(4000, 0), 64),
               pdata.dataset(pdata.ranking_arrays(2000, 1), 200))
    candidates = budget_lib.random_feasible(space, 12, 5)
    batches = list(pdata.dataset(pdata.ranking_arrays(2000, 1), 200, repeat=False).take(3))
    many = search.steps.scores_many(candidates, batches)
    assert many.shape == (len(candidates), 3) and len(candidates) > 2
    assert many.dtype == np.float64               # the race averages them as before
    one = np.array([search.steps.scores(c, batches) for c in candidates])
    np.testing.assert_array_equal(many, one)
    assert len(np.unique(many[:, 0])) > 1         # the candidates differ: rows are not copies
    assert search.steps.scores_many([], batches).shape == (0, 3)
    # one validation batch leaves the race's finalists none beyond the screening batch
    assert search.steps.scores_many(candidates, []).shape == (len(candidates), 0)
