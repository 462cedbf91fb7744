"""The Scale section's parameter-server numbers: one search and one retrain on a cluster.

``ps_job`` runs in a process of its own (``scale_jobs.measured``; an in-process cluster
configures the process's eager context for good). On a slice of the train split, with the
full vocabularies (so the supernet's tables are the ones a million-id user splits), it runs

1. the same short NIS-ME search on one process (the default strategy), then
2. on an in-process cluster (``cluster.in_process_cluster``: chief + 2 workers + 2 parameter
   servers, all sharing this machine's cores), with ``strategy="parameter_server"``'s
   partitioner, and
3. a retrain of the emitted MES on the cluster (``training.fit``, ``steps_per_epoch``).

It reports examples/s of each, where the largest tables' shards live, and the MES cost. On
one machine the cluster cannot be faster (its servers share the cores and talk over gRPC on
localhost): the numbers show that the runtime splits the tables and runs the search, and what
its coordination costs per step, not a speed-up.
"""
from __future__ import annotations

import time
from typing import Dict

from benchmarks import methods as m
from benchmarks.scale import jobs as scale_jobs
from benchmarks.data import tf_dataset

WARMUP, SEARCH = 60, 120          # steps of each search (controller every 4th after warm-up)
RETRAIN_STEPS = 120               # retrain steps on the cluster


def ps_job(arrays_dir: str, dataset_json: str, vocab_sizes: Dict[str, int], budget: int,
           rows: int) -> Dict:
    """Single-process vs parameter-server search, and a cluster retrain (see module doc)."""
    import tensorflow as tf
    from trainer_module import distribute as cluster
    from trainer_module.model import models
    from trainer_module.model import training
    from trainer_module.search.search import NeuralInputSearch, SearchConfig
    from trainer_module.search.space import SearchSpace

    data, base = scale_jobs._data(arrays_dir, dataset_json, vocab_sizes)
    feats, labels = data.splits["train"]
    train_arrays = ({k: v[:rows] for k, v in feats.items()}, labels[:rows])
    space = SearchSpace.from_vocab_sizes(data.vocab_sizes, budget, mode="ME")
    cfg = SearchConfig(warmup_steps=WARMUP, search_steps=SEARCH, optimizer="lazy_adam",
                       final_candidates=16, final_random_candidates=16, final_eval_batches=2,
                       log_every=30, checkpoint_every=10**6)
    val_bs = cfg.controller_batch_size(m.BATCH_SIZE)

    def search(strategy) -> Dict:
        stamps: Dict[int, float] = {}
        train = tf_dataset(train_arrays, m.BATCH_SIZE, 0)
        val = tf_dataset(data.splits["eval"], val_bs, 1)
        start = time.perf_counter()
        nis = NeuralInputSearch(space, data.dataset, cfg, strategy=strategy)
        result = nis.run(train, val, on_step=lambda s: stamps.__setitem__(s, time.perf_counter()))
        end = time.perf_counter()
        w, t = WARMUP, WARMUP + SEARCH
        first = min(stamps)  # the first join (cluster) or step: tracing excluded
        return {"search_s": end - start, "cost": result.spec.cost(),
                "warmup_examples_per_s": (w - first) * m.BATCH_SIZE / (stamps[w] - stamps[first]),
                "search_examples_per_s": SEARCH * m.BATCH_SIZE / (stamps[t] - stamps[w]),
                "spec": result.spec, "nis": nis}

    single = search(None)
    single.pop("nis")
    single_spec = single.pop("spec")
    strategy = cluster.parameter_server_strategy(cluster.in_process_cluster())
    ps = search(strategy)
    shards = cluster.shard_devices(ps.pop("nis").model.trainable_variables)
    spec = ps.pop("spec")
    with strategy.scope():
        model = models.build_model(data.dataset, spec, optimizer="lazy_adam")
    train = tf_dataset(train_arrays, m.BATCH_SIZE, 0)
    val = tf_dataset(data.splits["eval"], 2048, 1)
    start = time.perf_counter()
    fitted = training.fit(model, train, val, "ranking", training.TrainRecipe(max_epochs=1),
                          steps_per_epoch=RETRAIN_STEPS, validation_steps=2)
    retrain_s = time.perf_counter() - start
    largest = sorted(shards.items(), key=lambda kv: -len(kv[1]))[:3]
    return {"measured": True, "rows": rows, "budget": budget, "warmup_steps": WARMUP,
            "search_steps": SEARCH, "controller_every": cfg.controller_every,
            "single": {**single, "within_budget": single_spec.cost() <= budget},
            "parameter_server": {**ps, "within_budget": spec.cost() <= budget},
            "retrain": {"steps": fitted.steps, "s": retrain_s,
                        "examples_per_s": fitted.steps * m.BATCH_SIZE / retrain_s},
            "split_variables": {k: sorted(set(v)) for k, v in largest if len(v) > 1},
            "num_split_variables": sum(len(v) > 1 for v in shards.values()),
            "rss_after_data_bytes": base, "tf_version": tf.__version__}
