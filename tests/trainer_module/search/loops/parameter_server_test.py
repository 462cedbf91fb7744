"""The search and the retrain on tf.distribute's parameter-server runtime (in-process cluster).

One subprocess (``ps_cluster.py``; an in-process cluster reconfigures its process for good)
starts 2 workers and 2 parameter servers, runs a short search with checkpoints, resumes it
in a new search object from the same directory, retrains the emitted MES with Keras ``fit``
and exports it; the tests read what it printed. A second subprocess, started at the same time,
runs a few search steps under ``multi_worker_mirrored`` with a one-worker ``TF_CONFIG``.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from trainer_module import distribute as cluster
from trainer_module.data import tfx_io

HERE = os.path.dirname(os.path.abspath(__file__))
HELPERS = os.path.dirname(os.path.dirname(HERE))  # tests/trainer_module: planted_data
BUDGET = 20000
PS0, PS1 = "/job:ps/replica:0/task:0", "/job:ps/replica:0/task:1"


MWMS_SCRIPT = textwrap.dedent("""
    import json, os, sys
    import portpicker
    os.environ["TF_CONFIG"] = json.dumps({{"cluster": {{"worker": [
        "localhost:%d" % portpicker.pick_unused_port()]}}, "task": {{"type": "worker", "index": 0}}}})
    sys.path.insert(0, {here!r})
    import planted_data as pdata
    from trainer_module.data import tfx_io
    from trainer_module.search.search import SearchConfig, run_search
    from trainer_module.search.space import SearchSpace
    strategy = tfx_io.make_strategy("multi_worker_mirrored")
    space = SearchSpace.from_vocab_sizes(pdata.VOCAB, budget=20000, mode="ME")
    cfg = SearchConfig(task="ranking", warmup_steps=1, search_steps=2, log_every=3,
                       hidden_units=(16,), final_candidates=0)
    res = run_search(space, pdata.DATASET, pdata.dataset(pdata.ranking_arrays(1000, 0), 100),
                     pdata.dataset(pdata.ranking_arrays(1000, 1), 200), cfg, strategy=strategy)
    import tensorflow as tf
    print("RESULT " + json.dumps({{"mwms": isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy),
                                   "replicas": strategy.num_replicas_in_sync,
                                   "steps": res.spec.metadata["steps"],
                                   "cost": res.spec.cost()}}))
""")


def _start(args, log):
    """The script in its own process, its output to ``log`` (a pipe could fill and stall it)."""
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", PYTHONPATH=os.getcwd())
    env.pop("TF_CONFIG", None)
    with open(log, "w", encoding="utf-8") as out:
        return subprocess.Popen([sys.executable, *args], env=env, stdout=out,
                                stderr=subprocess.STDOUT, text=True)


def _result(proc, log, timeout=900):
    proc.wait(timeout=timeout)
    text = log.read_text()
    assert proc.returncode == 0, text[-4000:]
    line = [l for l in text.splitlines() if l.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Both subprocesses, started together (their start-up and tracing overlap)."""
    tmp = tmp_path_factory.mktemp("ps")
    (tmp / "mwms.py").write_text(MWMS_SCRIPT.format(here=HELPERS))
    args = {"ps": [os.path.join(HERE, "ps_cluster.py"), str(tmp)], "mwms": [str(tmp / "mwms.py")]}
    procs = {name: _start(a, tmp / f"{name}.log") for name, a in args.items()}
    try:
        return {name: _result(proc, tmp / f"{name}.log") for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.poll() is None:
                proc.kill()


@pytest.fixture(scope="module")
def ps_run(runs):
    return runs["ps"]


def _split(devices):
    return any(PS0 in d for d in devices) and any(PS1 in d for d in devices)


def test_tables_are_split_over_both_parameter_servers(ps_run):
    supernet = ps_run["supernet"]
    for table in ("supernet/signal/blocks", "supernet/noise/blocks"):
        assert _split(supernet[table]), (table, supernet[table])
    final = ps_run["final_model"]
    tables = [n for n in final if "/E_" in n]
    assert tables and any(_split(final[n]) for n in tables), final
    assert ps_run["controller_split"] == []  # the controller stays whole


def test_emitted_mes_is_within_budget(ps_run):
    spec = ps_run["spec"]
    assert spec["budget"] == BUDGET and spec["accounting"] == "exact"
    # The cost recomputed from the entries: tables v x d, projections d_m x d_1 (m >= 2).
    cost = sum(v * d for entries in spec["features"].values() for v, d in entries)
    cost += sum(d * entries[0][1] for entries in spec["features"].values() for _, d in entries[1:])
    assert 0 < cost <= BUDGET
    # The controller's own picks were within budget on the cluster (no repair needed).
    assert spec["metadata"]["budget_fallback"] is False
    search_rows = [r for r in ps_run["history"] if r["mean_cost_ratio"] is not None]
    assert search_rows and all(r["mean_cost_ratio"] <= 1.0 for r in search_rows)
    assert all(r["most_probable_cost_ratio"] <= 1.0 for r in search_rows)


def test_resume_continues_at_the_saved_step(ps_run):
    assert ps_run["first_steps"] == 4                      # 2 warm-up + 2 search steps, saved
    assert ps_run["resumed_joins"] == [6]                  # the new search ran steps 5-6 only
    assert ps_run["spec"]["metadata"]["steps"] == 6
    assert [r["step"] for r in ps_run["history"]] == [2, 4, 6]   # history kept across runs


def test_retrain_fits_under_parameter_servers(ps_run):
    fit = ps_run["fit"]
    assert fit["epochs"] == 2 and fit["steps"] == 6
    assert ps_run["iterations"] == 6  # 64 steps per call, cut to the 3-step epochs
    assert all(0.0 <= v <= 1.0 for v in fit["curve"])

def test_export_serves_the_trained_split_tables(ps_run):
    import numpy as np  # pylint: disable=import-outside-toplevel
    import tensorflow as tf  # pylint: disable=import-outside-toplevel
    sys.path.insert(0, HELPERS)
    import planted_data as pdata  # pylint: disable=import-outside-toplevel
    features = next(iter(pdata.dataset(pdata.ranking_arrays(1000, 1), 200, repeat=False)))[0]
    served = tf.saved_model.load(ps_run["export"]).signatures["serving_default"]
    out = list(served(**features).values())[0].numpy().ravel()
    np.testing.assert_allclose(out, ps_run["predictions"], atol=1e-5)


def test_multi_worker_mirrored_smoke(runs):
    out = runs["mwms"]
    assert out["mwms"] and out["replicas"] == 1
    assert out["steps"] == 3 and 0 < out["cost"] <= BUDGET


def test_parameter_server_needs_a_full_tf_config(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    with pytest.raises(ValueError, match="needs TF_CONFIG"):
        tfx_io.make_strategy("parameter_server")
    monkeypatch.setenv("TF_CONFIG", json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:1"]},
                                                "task": {"type": "chief", "index": 0}}))
    with pytest.raises(ValueError, match=r"lacks task\(s\) \['ps'\]"):
        cluster.tf_config_resolver()
    with pytest.raises(ValueError, match="strategy must be one of"):
        tfx_io.make_strategy("parameter-server")
