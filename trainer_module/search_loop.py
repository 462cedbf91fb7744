"""The single-process NIS search loop, several steps per compiled call.

``NeuralInputSearch.run`` hands over to ``run`` here unless its strategy is a
``ParameterServerStrategy`` (``ps_search``). The loop runs the search in chunks that end at
the warm-up's end, at every ``log_every`` and ``checkpoint_every`` boundary (``chunk_end``)
and after ``steps_per_call`` steps; after each chunk it logs, checkpoints and calls
``on_step`` (``NeuralInputSearch.after_steps``).

With ``steps_per_call`` > 1 a chunk's steps run inside one ``tf.while_loop`` that reads the
batches from the iterators itself, as Keras' ``steps_per_execution`` does for ``fit``:
warm-up steps, and in the search phase whole cycles of a controller step and the
``controller_every - 1`` main steps that follow it. The steps are the same compiled step
bodies, in the same order, on the same batches and under the same step numbers (their
seeds), so the search's updates do not change; what goes is the Python dispatch of every
step, about a third of a supernet step at batch 256 on CPU. A cycle cut by a chunk's edge
(and every step with ``steps_per_call=1``) runs one step per call.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable, Optional

import tensorflow as tf

from trainer_module import cluster
from trainer_module import search_progress as progress

if TYPE_CHECKING:  # pragma: no cover
    from trainer_module.search import NeuralInputSearch


def chunk_end(step: int, warmup: int, total: int, log_every: int, checkpoint_every: int) -> int:
    """The next step at which the loop stops to log or checkpoint: the warm-up's end, the next
    log or checkpoint boundary, or the end of the search."""
    ends = [total, (step // log_every + 1) * log_every,
            (step // checkpoint_every + 1) * checkpoint_every]
    if step < warmup:
        ends.append(warmup)
    return min(ends)


def build_slots(search: "NeuralInputSearch") -> None:
    """Creates the optimizers' slot variables up front (a compiled loop or a scheduled step
    may not create variables); the controller's beside the controller."""
    with search.strategy.scope():
        search.optimizer.build(search.model.trainable_variables)
        with cluster.unpartitioned(search.strategy, search.step):
            search.controller.optimizer.build(search.controller.trainable_variables)


class CompiledSteps:
    """Warm-up steps and whole search cycles of ``search``, many per compiled call."""

    def __init__(self, search: "NeuralInputSearch"):
        self.search = search
        self.warmup = tf.function(self._warmup, autograph=False)
        self.cycles = tf.function(self._cycles, autograph=False)

    def _counted(self, done: tf.Tensor) -> tf.Operation:
        """Increments the step once ``done`` is computed (the next step's seeds read it)."""
        with tf.control_dependencies([done]):
            return self.search.step.assign_add(1)

    def _warmup(self, train_it, k: tf.Tensor) -> tf.Tensor:
        """``k`` warm-up steps on the next ``k`` training batches; the last step's loss."""
        def body(i, _):
            x, y = next(train_it)
            loss = self.search._warmup_step(x, y)
            with tf.control_dependencies([self._counted(loss)]):
                return i + 1, tf.identity(loss)
        return tf.while_loop(lambda i, _: i < k, body, [tf.constant(0), tf.constant(0.0)])[1]

    def _cycles(self, train_it, val_it, n: tf.Tensor):
        """``n`` search cycles (a controller step, then ``controller_every - 1`` main steps
        under the choices its pass sampled); the last step's loss and the controller
        statistics ``[n, 3]`` (mean reward, objective and cost ratio of each controller step)."""
        search, every = self.search, self.search.config.controller_every

        def body(i, _, stats):
            x, y = next(train_it)
            xv, yv = next(val_it)
            out, upcoming = search._search_step(x, y, xv, yv)
            done, loss = self._counted(out), out[0]
            for index in range(every - 1):
                with tf.control_dependencies([done]):
                    x, y = next(train_it)
                    loss = search._main_step(x, y, upcoming, tf.constant(index, tf.int32))
                done = self._counted(loss)
            with tf.control_dependencies([done]):
                return i + 1, tf.identity(loss), stats.write(i, out[1:])
        _, loss, stats = tf.while_loop(
            lambda i, *_: i < n, body,
            [tf.constant(0), tf.constant(0.0), tf.TensorArray(tf.float32, size=n)])
        return loss, stats.stack()


def run(search: "NeuralInputSearch", train_ds: tf.data.Dataset, val_ds: tf.data.Dataset,
        checkpoint_dir: Optional[str], log_dir: Optional[str],
        on_step: Optional[Callable[[int], None]]):
    """Runs (or resumes) ``search`` on one machine and returns its ``SearchResult``."""
    cfg, strategy = search.config, search.strategy
    manager, history = search.restore(checkpoint_dir) if checkpoint_dir else (None, [])
    writer = tf.summary.create_file_writer(log_dir) if log_dir else None
    # The first batches of val_ds, drawn before the loop, so a resumed run scores the final
    # candidates on the same batches. The pass runs to its end: an iterator left idle for
    # the whole search is slow to release afterwards (it keeps prefetching val_ds).
    n_final = cfg.final_eval_batches if cfg.final_candidates else 0
    final_batches = list(strategy.experimental_distribute_dataset(val_ds.take(n_final)))
    train_it = iter(strategy.experimental_distribute_dataset(train_ds))
    val_it = iter(strategy.experimental_distribute_dataset(val_ds))
    compiled = None
    if cfg.steps_per_call > 1:  # a compiled loop may not create the optimizers' slots itself
        build_slots(search)
        compiled = CompiledSteps(search)
    total, every = cfg.warmup_steps + cfg.search_steps, cfg.controller_every
    step = int(search.step.numpy())
    timer = progress.Progress("NeuralInputSearch", total, start=step)
    batches = (static_batch(train_ds), static_batch(val_ds))
    state = {"upcoming": None, "ahead": 0}
    acc, main_loss = [], None
    while step < total:
        end = min(chunk_end(step, cfg.warmup_steps, total, cfg.log_every, cfg.checkpoint_every),
                  step + cfg.steps_per_call)
        warm = step < cfg.warmup_steps
        controller_steps = sum(cfg.is_controller_step(s) for s in range(step, end))
        if warm and compiled is not None:
            main_loss = compiled.warmup(train_it, tf.constant(end - step, tf.int32))
        elif warm:
            main_loss = search._warmup_fn(*next(train_it))
            search.step.assign_add(1)
        else:
            main_loss = _search_steps(search, compiled, train_it, val_it, step, end, state, acc)
        timer.examples += batches[0] * (end - step) + batches[1] * controller_steps
        step = end
        acc = search.after_steps(step, warm, main_loss, acc, history, writer, manager,
                                 checkpoint_dir, on_step, timer)
    return search.result(history, final_batches)


def _search_steps(search, compiled: Optional[CompiledSteps], train_it, val_it, step: int,
                  end: int, state: dict, acc: list):
    """Search-phase steps ``step .. end - 1``: the rest of a running cycle one step per call,
    then whole cycles in one call, then the head of a cycle cut by ``end``; returns the last
    loss and appends the controller statistics to ``acc``."""
    cfg, every = search.config, search.config.controller_every
    loss = None
    while step < end and not cfg.is_controller_step(step):
        loss, step = _one_step(search, train_it, val_it, step, state, acc), step + 1
    n = (end - step) // every if compiled is not None else 0
    if n:
        loss, stats = compiled.cycles(train_it, val_it, tf.constant(n, tf.int32))
        acc.append(stats)
        state["upcoming"], step = None, step + n * every
    while step < end:
        loss, step = _one_step(search, train_it, val_it, step, state, acc), step + 1
    return loss


def _one_step(search, train_it, val_it, step: int, state: dict, acc: list):
    """One search-phase step in its own call: a controller step, or a main step under the
    choices the last controller pass sampled (a resumed run samples them afresh)."""
    x, y = next(train_it)
    if search.config.is_controller_step(step):
        stats, state["upcoming"] = search._search_fn(x, y, *next(val_it))
        state["ahead"] = 0
        acc.append(stats[1:])
        loss = stats[0]
    else:
        if state["upcoming"] is None:
            state["upcoming"], state["ahead"] = search._upcoming_fn(x, y), 0
        loss = search._main_fn(x, y, state["upcoming"], tf.constant(state["ahead"], tf.int32))
        state["ahead"] += 1
    search.step.assign_add(1)
    return loss


def static_batch(ds: tf.data.Dataset) -> int:
    """Examples per batch of ``ds`` when its shape says so, else 0 (no examples/s shown)."""
    return int(ds.element_spec[1].shape[0] or 0)
