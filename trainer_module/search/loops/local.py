"""The single-process NIS search loop, several steps per compiled call.

``run(steps, train_ds, val_ds, checkpointer)`` runs a search's steps
(``trainer_module.search.steps``) unless its strategy is a ``ParameterServerStrategy``
(``loops.parameter_server``). The loop runs the search in chunks that end at the warm-up's
end, at every ``log_every`` and ``checkpoint_every`` boundary (``chunk_end``) and after
``steps_per_call`` steps; after each chunk it logs, checkpoints and calls ``on_step``
(``Checkpointer.after_steps``).

With ``steps_per_call`` > 1 a chunk's steps run inside one ``tf.while_loop`` that reads the
batches from the iterators itself, as Keras' ``steps_per_execution`` does for ``fit``: the
same step bodies (a ``tf.cond`` picks the controller step where one is due) in the same
order, on the same batches and step numbers, so the updates are those of one step per call
without the per-step Python dispatch (docs/decisions.md#steps-per-call). Under several
replicas the search phase runs one step per call (the choices a controller pass samples for
the following steps are per replica). When the warm-up is long enough to hide it
(``BACKGROUND_TRACE_MIN_STEPS``), the search-phase loop is traced in a background thread
while the warm-up runs (``CompiledSteps.trace_search_in_background``), so the trace does not
sit between the two phases (docs/decisions.md#background-trace).
"""
from __future__ import annotations

import threading
from typing import Callable, List, NamedTuple, Optional

import tensorflow as tf

from trainer_module.search.checkpointing import Checkpointer
from trainer_module.search.steps import SearchSteps

# Warm-up steps that must remain after the first warm-up call for the search loop to be
# traced in the background: tracing takes seconds of one core (2-5 s at 3M rows, 2 cores),
# which a shorter warm-up cannot hide, only slow down (ML-100K's 200-step warm-ups).
BACKGROUND_TRACE_MIN_STEPS = 1000


def chunk_end(step: int, warmup: int, total: int, log_every: int, checkpoint_every: int) -> int:
    """The next step at which the loop stops to log or checkpoint: the warm-up's end, the next
    log or checkpoint boundary, or the end of the search."""
    ends = [total, (step // log_every + 1) * log_every,
            (step // checkpoint_every + 1) * checkpoint_every]
    if step < warmup:
        ends.append(warmup)
    return min(ends)


class CompiledSteps:
    """Warm-up and search-phase steps of ``steps``, many per compiled call."""

    def __init__(self, steps: SearchSteps):
        self.steps = steps
        self.warmup = tf.function(self._warmup, autograph=False)
        self.search_steps = tf.function(self._search, autograph=False)

    def _counted(self, done: tf.Tensor) -> tf.Operation:
        """Increments the step once ``done`` is computed (the next step's seeds read it)."""
        with tf.control_dependencies([done]):
            return self.steps.counter.assign_add(1)

    def _warmup(self, train_it, k: tf.Tensor) -> tf.Tensor:
        """``k`` warm-up steps on the next ``k`` training batches; the last step's loss."""
        def body(i, _):
            x, y = next(train_it)
            loss = self.steps.warmup(x, y, self.steps.counter)
            with tf.control_dependencies([self._counted(loss)]):
                return i + 1, tf.identity(loss)
        return tf.while_loop(lambda i, _: i < k, body, [tf.constant(0), tf.constant(0.0)])[1]

    def trace_search_in_background(self, train_it, val_it, upcoming: tf.Tensor) -> "Background":
        """Traces and instantiates the search-phase loop in a background thread, by calling it
        for zero steps (its loop body never runs: no batch is read, no variable touched), so
        the seconds that take overlap the warm-up instead of following it."""
        return Background(lambda: self.search_steps(train_it, val_it, upcoming, tf.constant(0),
                                                    tf.constant(0)))

    def _search(self, train_it, val_it, upcoming: tf.Tensor, ahead: tf.Tensor, k: tf.Tensor):
        """``k`` search-phase steps from the current step: a controller step where one is due
        (``SearchConfig.is_controller_step``), else a main step under row block ``ahead`` of
        ``upcoming``, the choices the last controller pass sampled for it. Returns the last
        loss, the controller statistics ``[controller steps, 3]`` (mean reward, objective and
        cost ratio), and ``upcoming`` and ``ahead`` for the steps after these."""
        steps, cfg = self.steps, self.steps.config

        def controller_step(x, y, upcoming, ahead, stats, count):
            xv, yv = next(val_it)
            out, upcoming = steps.controller_step(x, y, xv, yv, steps.counter)
            stats = tf.tensor_scatter_nd_update(stats, [[count]], out[None, 1:])
            return out[0], upcoming, tf.constant(0), stats, count + 1

        def main_step(x, y, upcoming, ahead, stats, count):
            return (steps.main(x, y, upcoming, ahead, steps.counter), upcoming, ahead + 1, stats,
                    count)

        def body(i, _, upcoming, ahead, stats, count):
            due = tf.equal((steps.counter - cfg.warmup_steps) % cfg.controller_every, 0)
            x, y = next(train_it)
            args = (x, y, upcoming, ahead, stats, count)
            out = tf.cond(due, lambda: controller_step(*args), lambda: main_step(*args))
            with tf.control_dependencies([self._counted(out[0])]):
                return (i + 1,) + tuple(tf.identity(t) for t in out)

        start = (tf.constant(0), tf.constant(0.0), upcoming, ahead, tf.zeros([k, 3]), tf.constant(0))
        shapes = (start[0].shape, start[1].shape, tf.TensorShape([None, upcoming.shape[1]]),
                  ahead.shape, tf.TensorShape([None, 3]), start[5].shape)
        _, loss, upcoming, ahead, stats, count = tf.while_loop(
            lambda i, *_: i < k, body, start, shape_invariants=shapes)
        return loss, stats[:count], upcoming, ahead


class Background:
    """Runs ``fn`` in a daemon thread; ``join`` waits and re-raises what it raised."""

    def __init__(self, fn: Callable[[], object]):
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self._thread.start()

    def _run(self, fn) -> None:
        try:
            fn()
        except BaseException as e:  # noqa: BLE001 - handed to the caller by join()
            self._error = e

    def join(self) -> None:
        self._thread.join()
        if self._error is not None:
            raise self._error


class LoopOutput(NamedTuple):
    """What a loop returns: the history rows and the held-back validation batches."""
    history: List[dict]
    final_batches: list


def run(steps: SearchSteps, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset,
        checkpointer: Checkpointer) -> LoopOutput:
    """Runs (or resumes, from ``checkpointer``) the search's steps on one machine.

    Returns the history and the first ``final_eval_batches`` batches of ``val_ds``, drawn
    before the loop so a resumed run scores the final candidates on the same batches.
    """
    cfg, strategy = steps.config, steps.strategy
    step = checkpointer.restore()
    # The pass over the final batches runs to its end: an iterator left idle for the whole
    # search is slow to release afterwards (it keeps prefetching val_ds).
    n_final = cfg.final_eval_batches if cfg.final_candidates else 0
    final_batches = list(strategy.experimental_distribute_dataset(val_ds.take(n_final)))
    train_it = iter(strategy.experimental_distribute_dataset(train_ds))
    val_it = iter(strategy.experimental_distribute_dataset(val_ds))
    compiled = None
    if cfg.steps_per_call > 1:  # a compiled loop may not create the optimizers' slots itself
        steps.build_slots()
        compiled = CompiledSteps(steps)
    total = cfg.warmup_steps + cfg.search_steps
    timer = checkpointer.start_timer(total, step)
    batches = (static_batch(train_ds), static_batch(val_ds))
    state = {"upcoming": None, "ahead": 0, "batch": batches[0]}
    acc, main_loss, tracing = [], None, None
    while step < total:
        end = min(chunk_end(step, cfg.warmup_steps, total, cfg.log_every, cfg.checkpoint_every),
                  step + cfg.steps_per_call)
        warm = step < cfg.warmup_steps
        controller_steps = sum(cfg.is_controller_step(s) for s in range(step, end))
        if warm and compiled is not None:
            main_loss = compiled.warmup(train_it, tf.constant(end - step, tf.int32))
            if (tracing is None and cfg.search_steps and strategy.num_replicas_in_sync == 1
                    and cfg.warmup_steps - end >= BACKGROUND_TRACE_MIN_STEPS):
                # after the first warm-up call, whose own tracing it would slow down
                tracing = compiled.trace_search_in_background(
                    train_it, val_it, steps.no_choices(batches[0]))
        elif warm:
            main_loss = steps.warmup_fn(*next(train_it), _number(step))
            steps.counter.assign_add(1)
        else:
            if tracing is not None:
                tracing.join()
                tracing = None
            main_loss = _search_steps(steps, compiled, train_it, val_it, step, end, state, acc)
        timer.examples += batches[0] * (end - step) + batches[1] * controller_steps
        step = end
        acc = checkpointer.after_steps(step, warm, main_loss, acc)
    return LoopOutput(checkpointer.history, final_batches)


def _number(step: int) -> tf.Tensor:
    """A step number as the compiled steps take it (a tensor: no retracing per step)."""
    return tf.constant(step, tf.int64)


def _search_steps(steps: SearchSteps, compiled: Optional[CompiledSteps], train_it, val_it,
                  step: int, end: int, state: dict, acc: list):
    """Search-phase steps ``step .. end - 1``, in one compiled call when ``compiled`` (and
    one replica: the choices carried between steps are per replica); else one step per call.
    A resumed run between controller steps samples that cycle's choices afresh, one step per
    call. Returns the last loss; appends the controller statistics to ``acc``."""
    cfg, loss = steps.config, None
    if compiled is None or steps.strategy.num_replicas_in_sync > 1:
        while step < end:
            loss, step = _one_step(steps, train_it, val_it, step, state, acc), step + 1
        return loss
    while state["upcoming"] is None and step < end and not cfg.is_controller_step(step):
        loss, step = _one_step(steps, train_it, val_it, step, state, acc), step + 1
    if step == end:
        return loss
    upcoming = state["upcoming"]
    if upcoming is None:  # a controller step comes first and samples them
        upcoming = steps.no_choices(state["batch"])
    loss, stats, state["upcoming"], ahead = compiled.search_steps(
        train_it, val_it, upcoming, tf.constant(state["ahead"], tf.int32),
        tf.constant(end - step, tf.int32))
    state["ahead"] = int(ahead)
    if stats.shape[0]:  # a window without a controller step repeats the last statistics
        acc.append(stats)
    return loss


def _one_step(steps: SearchSteps, train_it, val_it, step: int, state: dict, acc: list):
    """One search-phase step in its own call: a controller step, or a main step under the
    choices the last controller pass sampled (a resumed run samples them afresh)."""
    x, y = next(train_it)
    number = _number(step)
    if steps.config.is_controller_step(step):
        stats, state["upcoming"] = steps.controller_step_fn(x, y, *next(val_it), number)
        state["ahead"] = 0
        acc.append(stats[1:])
        loss = stats[0]
    else:
        if state["upcoming"] is None:
            state["upcoming"], state["ahead"] = steps.upcoming_fn(x, y, number), 0
        loss = steps.main_fn(x, y, state["upcoming"], tf.constant(state["ahead"], tf.int32),
                             number)
        state["ahead"] += 1
    steps.counter.assign_add(1)
    return loss


def static_batch(ds: tf.data.Dataset) -> int:
    """Examples per batch of ``ds`` when its shape says so, else 0 (no examples/s shown)."""
    return int(ds.element_spec[1].shape[0] or 0)
