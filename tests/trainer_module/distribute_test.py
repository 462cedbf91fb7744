"""A few search steps under MirroredStrategy over two logical CPU devices (own process)."""
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))

SCRIPT = textwrap.dedent("""
    import os, sys, json
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    sys.path.insert(0, {here!r})
    import tensorflow as tf
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import planted_data as pdata
    from trainer_module.search.search import SearchConfig, run_search
    from trainer_module.search.space import SearchSpace
    strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
    space = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=20000, mode="ME")
    train = pdata.dataset(pdata.ranking_arrays(4000, 0), 128)
    val = pdata.dataset(pdata.ranking_arrays(2000, 1), 400)  # 200 per replica = 2 groups each
    # A small final selection: its scoring runs on both replicas too, a few candidates suffice.
    cfg = SearchConfig(task="ranking", warmup_steps=3, search_steps=4, log_every=7,
                       final_candidates=4, final_random_candidates=4, final_eval_batches=2)
    res = run_search(space, pdata.DATASET, train, val, cfg, strategy=strategy,
                     checkpoint_dir=sys.argv[1])
    print("RESULT", json.dumps({{"replicas": strategy.num_replicas_in_sync,
                                 "fallback": res.spec.metadata["budget_fallback"],
                                 "row": res.history[-1],
                                 "final": res.spec.metadata["final_selection"]}}))
""")


def test_search_under_mirrored_strategy(tmp_path):
    script = tmp_path / "mirrored.py"
    script.write_text(SCRIPT.format(here=HERE))
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", PYTHONPATH=os.getcwd())
    proc = subprocess.run([sys.executable, str(script), str(tmp_path / "ckpt")], env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = [l for l in proc.stdout.splitlines() if l.startswith("RESULT")][-1]
    import json
    out = json.loads(line[len("RESULT "):])
    assert out["replicas"] == 2
    # Budget masking held on both replicas: the controller's most probable configuration and
    # its samples were within budget (``budget.checked`` alone would pass a repaired pick).
    assert out["fallback"] is False and out["row"]["most_probable_cost_ratio"] <= 1.0
    assert out["row"]["mean_cost_ratio"] <= 1.0
    assert out["row"]["step"] == 7 and out["row"]["mean_reward"] is not None
    assert out["final"]["candidates"] > 1 and out["final"]["batches"] == 2
    assert os.path.exists(tmp_path / "ckpt" / "checkpoint")
