"""The NIS search on tf.distribute's parameter-server runtime (``ClusterCoordinator``).

``run(steps, train_ds, val_ds, checkpointer)`` runs a search's steps
(``trainer_module.search.steps``) when its strategy is a ``ParameterServerStrategy``. The chief (this process) holds no variables: the supernet's
tables are split over the parameter servers, the controller sits whole on one of them.
The chief schedules steps with ``coordinator.schedule``; each worker reads its batches from
its own copy of the datasets (``create_per_worker_dataset``) and runs the same compiled warm-up
or search step as the single-machine loop (a supernet update, followed on every
``controller_every``-th step by the controller's A3C update on a validation batch). The
workers run asynchronously and share the policy on the parameter servers: the controller is updated from every scheduled step as it finishes, as
the paper's A3C controller prescribes.

Each scheduled step claims its own step number (an atomic increment of the step
variable on a parameter server) and passes it to the step, which derives its randomness from it, so concurrent steps
draw different choices. Steps are scheduled in chunks ending at the warm-up's end, at every
``log_every`` and ``checkpoint_every`` boundary; after ``coordinator.join()`` the chief sets
``step`` to the count of finished steps (a step that a failed worker ran twice is counted
once), logs the chunk and writes the checkpoint, so a restarted chief continues from the
last saved step with the same checkpoint as the single-machine loop. A worker that fails is
handled by the coordinator (its steps are rescheduled on the others).

The final selection runs on the chief, reading the parameter servers: the controller's most
probable within-budget configuration, raced against its samples and random within-budget
configurations on held-back validation batches (``final_selection``), as everywhere.
"""
from __future__ import annotations

from typing import Callable, List

import numpy as np
import tensorflow as tf

from trainer_module.search.checkpointing import Checkpointer
from trainer_module.search.loops.local import LoopOutput, chunk_end
from trainer_module.search.steps import SearchSteps


def coordinator_for(strategy: tf.distribute.Strategy
                    ) -> tf.distribute.experimental.coordinator.ClusterCoordinator:
    """The strategy's ``ClusterCoordinator`` (one per strategy; created on first use)."""
    return tf.distribute.experimental.coordinator.ClusterCoordinator(strategy)


def _claiming(steps: SearchSteps, step_fn: Callable) -> Callable:
    """``step_fn(*args, step)`` run under a freshly claimed step number (its seeds derive from it)."""
    def claimed(*args):
        return step_fn(*args, steps.counter.assign_add(1) - 1)
    return claimed


def run(steps: SearchSteps, train_ds: tf.data.Dataset, val_ds: tf.data.Dataset,
        checkpointer: Checkpointer) -> LoopOutput:
    """Runs (or resumes, from ``checkpointer``) the search's steps on the cluster; returns the
    history and the held-back validation batches of the final selection."""
    cfg = steps.config
    coordinator = coordinator_for(steps.strategy)
    steps.build_slots()
    step = checkpointer.restore()
    n_final = cfg.final_eval_batches if cfg.final_candidates else 0
    final_batches = list(val_ds.take(n_final))
    train_it = iter(coordinator.create_per_worker_dataset(train_ds))
    val_it = iter(coordinator.create_per_worker_dataset(val_ds))

    def warm(it, number):
        x, y = next(it)
        return steps.warmup(x, y, number)

    def main(it, number):
        x, y = next(it)
        return steps.sampled_main(x, y, number)

    def controlled(it, vit, number):
        (x, y), (xv, yv) = next(it), next(vit)
        return steps.controller_step(x, y, xv, yv, number)[0]

    warm_fn = tf.function(_claiming(steps, warm), autograph=False)
    main_fn = tf.function(_claiming(steps, main), autograph=False)
    search_fn = tf.function(_claiming(steps, controlled), autograph=False)
    total = cfg.warmup_steps + cfg.search_steps
    acc, main_loss = [], None
    while step < total:
        end = chunk_end(step, cfg.warmup_steps, total, cfg.log_every, cfg.checkpoint_every)
        warmup = step < cfg.warmup_steps
        outs = [coordinator.schedule(warm_fn, args=(train_it,)) if warmup
                else coordinator.schedule(search_fn, args=(train_it, val_it))
                if cfg.is_controller_step(s) else coordinator.schedule(main_fn, args=(train_it,))
                for s in range(step, end)]
        coordinator.join()
        steps.counter.assign(end)
        step = end
        fetched: List[np.ndarray] = [np.asarray(o.fetch()) for o in outs]
        main_loss = fetched[-1] if fetched[-1].ndim == 0 else fetched[-1][0]
        acc += [f[1:] for f in fetched if f.ndim]
        acc = checkpointer.after_steps(step, warmup, main_loss, acc)
    return LoopOutput(checkpointer.history, final_batches)
