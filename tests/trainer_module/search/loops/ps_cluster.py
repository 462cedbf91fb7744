"""Runs a short search, its resume and a short retrain on an in-process parameter-server cluster.

Started by ``parameter_server_test.py`` in its own process (an in-process cluster configures
the process's eager context for good): 2 workers and 2 parameter servers on localhost ports
from ``portpicker``, this process being the chief (``cluster.in_process_cluster``, as
TensorFlow's parameter-server tutorial builds it). Prints one ``RESULT <json>`` line with what the test asserts.

Usage: ``python ps_cluster.py <work_dir>``
"""
import json
import os
import sys

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ["GRPC_FAIL_FAST"] = "use_caller"
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))  # tests/trainer_module: planted_data

import tensorflow as tf  # noqa: E402

import planted_data as pdata  # noqa: E402
from trainer_module import distribute as cluster
from trainer_module.model import models
from trainer_module.model import trainer as run_fn
from trainer_module.model import training  # noqa: E402
from trainer_module.search.search import NeuralInputSearch, SearchConfig  # noqa: E402
from trainer_module.search.space import SearchSpace  # noqa: E402

# Variables of at least 8 KiB are split: the tables here (supernet 2000 x 32, final ME tables
# of a few hundred rows); the 16-unit tower and the controller stay whole.
MIN_SHARD_BYTES = 8 << 10
HIDDEN = (16,)


def main(work_dir: str) -> None:
    strategy = cluster.parameter_server_strategy(cluster.in_process_cluster(),
                                                 min_shard_bytes=MIN_SHARD_BYTES)
    space = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=20000, mode="ME")
    train = pdata.dataset(pdata.ranking_arrays(2000, 0), 100)
    val = pdata.dataset(pdata.ranking_arrays(1000, 1), 200)
    base = dict(task="ranking", warmup_steps=2, log_every=2, checkpoint_every=2,
                hidden_units=HIDDEN, final_candidates=4, final_random_candidates=4,
                final_eval_batches=1)
    ckpt = os.path.join(work_dir, "search")
    first = NeuralInputSearch(space, pdata.DATASET, SearchConfig(search_steps=2, **base),
                              strategy=strategy)
    first_result = first.run(train, val, checkpoint_dir=ckpt)
    # A new chief process would do the same: fresh variables, the same checkpoint directory.
    second = NeuralInputSearch(space, pdata.DATASET, SearchConfig(search_steps=4, **base),
                               strategy=strategy)
    joins = []
    result = second.run(train, val, checkpoint_dir=ckpt, on_step=joins.append)

    with strategy.scope():
        model = models.build_model(pdata.DATASET, result.spec, hidden_units=HIDDEN,
                                   steps_per_execution=64)  # cut to the 3-step epochs
    fitted = training.fit(model, train, val, "ranking", training.TrainRecipe(max_epochs=2),
                          steps_per_epoch=3, validation_steps=2,
                          checkpoint_dir=os.path.join(work_dir, "train"))
    # The export (run_fn's servable_model + model.save); the test loads it in its own process
    # and compares its predictions on the first (unshuffled) validation batch with the
    # trained model's.
    export = os.path.join(work_dir, "export")
    one_batch = pdata.dataset(pdata.ranking_arrays(1000, 1), 200, repeat=False).take(1)
    servable = run_fn.servable_model(
        model, strategy, lambda: models.build_model(pdata.DATASET, result.spec, hidden_units=HIDDEN),
        os.path.join(work_dir, "model_run"), one_batch)
    servable.save(export, save_format="tf")
    print("RESULT " + json.dumps({
        "export": export, "iterations": int(model.optimizer.iterations), "predictions": model(next(iter(one_batch))[0]).numpy().ravel().tolist(),
        "supernet": cluster.shard_devices(first.model.trainable_variables),
        "controller_split": [v.name for v in first.controller.trainable_variables
                             if "/part_" in v.name],
        "final_model": cluster.shard_devices(model.trainable_variables),
        "first_steps": first_result.spec.metadata["steps"],
        "resumed_joins": joins,
        "spec": result.spec.to_dict(),
        "history": result.history,
        "fit": {"epochs": fitted.epochs, "steps": fitted.steps, "curve": fitted.curve},
    }))


if __name__ == "__main__":
    main(sys.argv[1])
