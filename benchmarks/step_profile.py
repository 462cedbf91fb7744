"""``python -m benchmarks.step_profile``: where a search step's time goes (ML-100K ranking).

Times, in milliseconds per call on this machine, the compiled pieces of one NIS
search at the benchmark's middle budget: the warm-up supernet step, the whole
search step (supernet step + controller pass + reward + A3C update), the main-model
step between controller steps (``controller_every``; choices from the last pass), and
parts on their own: the warm-up step's supernet forward, and forward + gradients (the
rest of it is sampling and the optimizer's update), the controller pass with its update,
and the reward (supernet forward on the controller's validation batch + grouped AUC). Every
piece is traced once before timing; batches are fixed, so the input pipeline is
not in the figures.

Example::

    python -m benchmarks.step_profile --mode ME --fraction 0.08
"""
from __future__ import annotations

import argparse
import tempfile
import time
from typing import Callable, Dict

import tensorflow as tf

from benchmarks import methods as m
from benchmarks import run
from benchmarks.data import TaskData, tf_dataset
from trainer_module.search.search import NeuralInputSearch
from trainer_module.search.space import SearchSpace


def _ms(fn: Callable[[], tf.Tensor], repeats: int) -> float:
    for _ in range(3):  # trace and warm up
        out = fn()
    _ = out.numpy()
    start = time.perf_counter()
    for _ in range(repeats):
        out = fn()
    _ = out.numpy()  # the calls are asynchronous: wait for the last one
    return (time.perf_counter() - start) / repeats * 1000.0


def profile(data: TaskData, fraction: float, mode: str, repeats: int = 100) -> Dict[str, float]:
    """Milliseconds per call of each search piece; ``decisions`` = controller decisions."""
    cfg = m.search_config(data.task, seed=0)
    space = SearchSpace.from_vocab_sizes(data.vocab_sizes, int(fraction * data.full_floats()), mode=mode)
    search = NeuralInputSearch(space, data.dataset, cfg, data.num_labels)
    x, y = next(iter(tf_dataset(data.splits["train"], m.BATCH_SIZE, 0)))
    val_batch = cfg.controller_batch_size(m.BATCH_SIZE)
    xv, yv = next(iter(tf_dataset(data.splits["eval"], val_batch, 1)))
    fns = search.step_functions(val_batch)
    upcoming = fns["search_step"](x, y, xv, yv)[1]  # the choices of the steps between
    return {"decisions": len(search.space.decision_sizes()), "controller_batch": val_batch,
            "warmup_step_ms": _ms(lambda: fns["warmup_step"](x, y), repeats),
            "supernet_forward_ms": _ms(lambda: fns["supernet_forward"](x, y), repeats),
            "supernet_forward_and_gradients_ms": _ms(lambda: fns["supernet_gradients"](x, y), repeats),
            "search_step_ms": _ms(lambda: fns["search_step"](x, y, xv, yv)[0], repeats),
            "main_step_ms": _ms(lambda: fns["main_step"](x, y, upcoming, tf.constant(0)), repeats),
            "controller_pass_and_update_ms": _ms(fns["controller_update"], repeats),
            "reward_ms": _ms(lambda: fns["reward"](xv, yv), repeats)}


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--task", default="ml100k_ranking")
    p.add_argument("--fraction", type=float, default=0.08)
    p.add_argument("--mode", default="ME", choices=("SE", "ME"))
    p.add_argument("--repeats", type=int, default=200)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        data = run.load_task(args.task, run.Settings(), tmp)
    for key, value in profile(data, args.fraction, args.mode, args.repeats).items():
        print(f"{key}: {value:.2f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
