import json
import threading

import numpy as np
import pytest
import tensorflow as tf

import planted_data as pdata
from trainer_module.search.loops import local as search_loop
from trainer_module.search.search import NeuralInputSearch, SearchConfig
from trainer_module.search.space import SearchSpace


def _run(steps_per_call: int, spy=None, on_step=None):
    # Cycles of 3 (controller_every) cut by log boundaries every 4 steps and by the warm-up's
    # end at 5: chunks start and end mid-cycle, as they do at scale (log_every 50, cycles of 4).
    space = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=20_000, mode="ME")
    cfg = SearchConfig(task="ranking", warmup_steps=5, search_steps=19, controller_every=3,
                       log_every=4, checkpoint_every=8, seed=3, final_candidates=4,
                       final_random_candidates=4, final_eval_batches=2,
                       steps_per_call=steps_per_call)
    tf.keras.utils.set_random_seed(0)
    search = NeuralInputSearch(space, pdata.DATASET, cfg)
    if spy is not None:
        for name in ("warmup_fn", "controller_step_fn", "main_fn"):
            fn = getattr(search.steps, name)
            setattr(search.steps, name, lambda *a, fn=fn, name=name: spy.append(name) or fn(*a))
    res = search.run(pdata.dataset(pdata.ranking_arrays(3000, 0), 64),
                     pdata.dataset(pdata.ranking_arrays(2000, 1), 200), on_step=on_step)
    variables = (search.model.trainable_variables + search.controller.trainable_variables
                 + search.optimizer.variables + search.controller.optimizer.variables)
    return res, [v.numpy() for v in variables], int(search.step.numpy())


def test_compiled_steps_make_the_same_updates_as_one_step_per_call(monkeypatch):
    monkeypatch.setattr(search_loop, "BACKGROUND_TRACE_MIN_STEPS", 0)  # and a background trace
    one_res, one_vars, one_steps = _run(1)
    calls, ends = [], []
    res, variables, steps = _run(64, spy=calls, on_step=ends.append)
    assert steps == one_steps == 24
    assert res.history == one_res.history          # losses, rewards, most probable MES per row
    assert len(variables) == len(one_vars)
    for a, b in zip(variables, one_vars):          # weights, controller, every optimizer slot
        np.testing.assert_array_equal(a, b)
    assert json.dumps(res.spec.to_dict()["features"]) == json.dumps(one_res.spec.to_dict()["features"])
    # The compiled loop ran: not one step on its own.
    assert calls == []
    assert ends == [4, 5, 8, 12, 16, 20, 24]        # on_step after each call's chunk


def test_chunks_end_at_warmup_log_and_checkpoint_boundaries():
    assert search_loop.chunk_end(0, 5, 24, 4, 8) == 4
    assert search_loop.chunk_end(4, 5, 24, 4, 8) == 5
    assert search_loop.chunk_end(5, 5, 24, 50, 100) == 24
    assert search_loop.chunk_end(2637, 2637, 5274, 50, 100) == 2650


def test_steps_per_call_must_be_positive():
    with pytest.raises(ValueError, match="steps_per_call must be >= 1"):
        SearchConfig(steps_per_call=0)


def test_search_loop_is_traced_in_the_background_when_the_warmup_can_hide_it(monkeypatch):
    traced = []
    search_fn = search_loop.CompiledSteps._search

    def spy(self, *args):  # runs only while tracing
        traced.append(threading.current_thread() is threading.main_thread())
        return search_fn(self, *args)
    monkeypatch.setattr(search_loop.CompiledSteps, "_search", spy)
    _run(64)                         # 1 warm-up step after the first call: too short to hide it
    assert traced == [True]
    monkeypatch.setattr(search_loop, "BACKGROUND_TRACE_MIN_STEPS", 1)
    traced.clear()
    _run(64)
    assert traced == [False]         # one trace, not on the main thread


def test_background_errors_reach_the_caller():
    def fail():
        raise ValueError("boom")
    with pytest.raises(ValueError, match="boom"):
        search_loop.Background(fail).join()
