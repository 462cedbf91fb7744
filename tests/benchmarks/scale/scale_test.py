"""The scale benchmark's pure logic: the Scale section from a tiny fake JSON, re-rendering.

No training and no Beam: the JSON below has the shape ``benchmarks.scale`` writes.
"""
import argparse
import copy
import json
import os
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

from benchmarks import report  # noqa: E402
from benchmarks import run as bench_run  # noqa: E402
from benchmarks.scale import cli as scale, data as scale_data, jobs as scale_jobs, report as scale_report  # noqa: E402

GIB = 2 ** 30
REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))


def _runs(aucs, eps=1000.0):
    return [{"auc": a, "val": a, "train_s": 10.0, "steps": 5, "examples_per_s": eps,
             "best_epoch": 1} for a in aucs]


def _search(search_s, same_s=12.0):
    return {"search_s": search_s, "steps": 40, "supernet_examples_per_s": 500.0,
            "controller_every": 4, "tail_s": 7.0, "same_examples_train_s": same_s,
            "peak_rss_bytes": 3 * GIB, "rss_after_data_bytes": 2 * GIB,
            "memory_plan": {"supernet_bytes": GIB // 4, "supernet_slot_bytes": GIB // 2,
                            "final_model_bytes": GIB // 8}}


# Seconds since the search's start at which chunks of steps ended: warm-up to step 20.
STAMPS = {10: 2.0, 20: 4.0, 24: 5.0, 30: 8.0, 40: 11.0}

FAKE = {
    "machine": {"nproc": "2", "cpu": "cpu", "load_average_at_start": "0.10 0.20 0.30"},
    "settings": {"rows": 1000, "sizes": {"num_users": 50}, "seeds": [0, 1], "passes": 1.0,
                 "epochs": 2, "search_overrides": {}},
    "quick": False, "optimizer": "lazy_adam", "total_s": 600.0,
    "step_ratio": {"small": 10, "large": 1000,
                   "lazy_adam": {"small_ms": 10.0, "large_ms": 20.0, "ratio": 2.0},
                   "adam": {"small_ms": 10.0, "large_ms": 500.0, "ratio": 50.0}},
    "data": {"generate": {"rows": 1000, "wall_s": 2.0, "rows_per_s": 500.0},
             "example_gen": {"rows": 50, "wall_s": 5.0, "rows_per_s": 10.0, "workers": 2},
             "analyze": {"rows": 900, "wall_s": 9.0, "rows_per_s": 100.0, "workers": 2},
             "pandas_s": 0.9, "apply_s": 1.0, "read_s": 0.5,
             "vocab_sizes": {"user_id": 40}, "splits": {"train": 900, "eval": 50, "test": 50},
             "full_floats": 1280},
    "budgets": [{"fraction": 0.05, "budget": 64, "grid_s": 100.0, "methods": {
        "Uniform SE grid": {"runs": _runs([0.70, 0.72]), "wall_s": 100.0, "dim": 4,
                            "points": [{"dim": 4}]},
        "Power-law MD": {"runs": _runs([0.69, 0.69]), "wall_s": 10.0},
        "NIS-SE": {"runs": _runs([0.71, 0.71]), "wall_s": 60.0, "search": _search(50.0)},
        "NIS-ME": {"runs": _runs([0.73, 0.73]), "wall_s": 40.0,
                   "search": {**_search(30.0), "phases": scale_jobs.phases(STAMPS, 14.0, 20)}}},
        "trainer_memory": {"peak_rss_bytes": 5 * GIB // 2, "rss_after_data_bytes": 2 * GIB,
                           "memory_plan_final_model_bytes": GIB // 8,
                           "model_with_slots_bytes": GIB // 16}}],
    "parameter_server": {"measured": False, "reason": "no cluster here"},
}


def test_section_reports_every_measurement_and_its_target():
    text = "\n".join(scale_report.section(FAKE))
    assert text.startswith("## Scale\n") and "QUICK" not in text
    assert "| 900 | 9.0 | 100 |" in text          # Transform analysis rows/s
    assert "| 900 | 0.9 | 1,000 |" in text        # pandas on the same train rows
    assert "10x as many rows per second" in text
    # wall time vs the whole grid, per NIS mode: 60/100 misses 1/2, 40/100 meets it
    assert "= 0.60x the grid (target <= 0.5: missed)" in text
    assert "= 0.40x the grid (target <= 0.5: met)" in text
    assert "| 64 | 5% | NIS-ME | 73.00 ± 0.00 (n=2) | +2.82% |" in text
    assert "| NIS-ME search, 5% | 3.00 GiB | 2.00 GiB | 1.00 GiB | supernet + slots 768.0 MiB |" \
        in text
    assert "final model with slots <= 128.0 MiB" in text
    assert "| lazy_adam | 10.0 | 20.0 | 2.00 (target <= 1.5: missed) |" in text
    assert "Not measured: no cluster here." in text
    # search overhead: against the final model trained on as many examples (12 s, wall: the
    # target), at its rate (40 steps x 256 examples at 1,000/s = 10.24 s) and against one
    # whole training run (train_s 10 s): 30/12 meets 3x, 50/12 misses it
    assert ("| 5% | ME | 30 | 40 (4) | 10,240 | 12.0 | 2.5x (target <= 3: met) | 1,000 | 10.2 | "
            "2.9x | 7 | 10 | 3.00x |") in text
    assert ("| 5% | SE | 50 | 40 (4) | 10,240 | 12.0 | 4.2x (target <= 3: missed) | 1,000 | 10.2 | "
            "4.9x | 7 | 10 | 5.00x |") in text

    # where the NIS-ME search's time went: start-up to step 10 2 s, warm-up 10 steps in 2 s
    # (200 ms/step), first search chunk 4 steps in 1 s, 16 more in 6 s (1,500 ms per 4-step
    # cycle), final selection 14 - 11 = 3 s; the final model: 256 / 1,000 s per step; at the
    # steady rates 20 warm-up steps x 200 ms + 20 search steps x 375 ms against 40 x 256 ms
    assert ("| 5% | ME | 2.0 (10) | 2.0 (10) | 200.00 | 1.0 (4) | 6.0 (16) | 1500.0 | 3.0 | "
            "1024.0 | 0.8x | 1.1x |") in text
    assert "| 5% | SE | 2.0" not in text          # a search without phases has no row


def test_search_phases_need_the_warmup_end_and_two_search_chunks():
    assert scale_jobs.phases(STAMPS, 14.0, 20)["selection_s"] == 3.0
    assert scale_jobs.phases({10: 2.0, 30: 8.0, 40: 9.0}, 14.0, 20) == {}   # no stamp at 20
    assert scale_jobs.phases({10: 2.0, 20: 4.0, 40: 9.0}, 14.0, 20) == {}   # one search chunk


PS = {"measured": True, "rows": 5000, "budget": 64, "warmup_steps": 60, "search_steps": 120,
      "controller_every": 4,
      "single": {"search_s": 20.0, "cost": 60, "warmup_examples_per_s": 9000.0,
                 "search_examples_per_s": 4000.0, "within_budget": True},
      "parameter_server": {"search_s": 90.0, "cost": 62, "warmup_examples_per_s": 1500.0,
                           "search_examples_per_s": 700.0, "within_budget": True},
      "retrain": {"steps": 120, "s": 30.0, "examples_per_s": 1024.0},
      "split_variables": {"supernet/user_id": ["/job:ps/replica:0/task:0/device:CPU:0",
                                               "/job:ps/replica:0/task:1/device:CPU:0"]},
      "num_split_variables": 3}


def test_parameter_server_numbers_are_rendered_side_by_side():
    raw = copy.deepcopy(FAKE)
    raw["parameter_server"] = PS
    text = "\n".join(scale_report.section(raw))
    assert "| one process | 20 | 9,000 | 4,000 | 60 | True |" in text
    assert "| parameter-server cluster | 90 | 1,500 | 700 | 62 | True |" in text
    assert "120 steps in 30 s (1,024 examples/s). 3 supernet variables split" in text
    assert "`supernet/user_id` on replica:0, replica:0" not in text
    assert "`supernet/user_id` on task:0, task:1" in text


def test_quick_section_is_flagged():
    raw = copy.deepcopy(FAKE)
    raw["quick"] = True
    assert scale_report.section(raw)[0] == "## Scale (QUICK smoke run, not representative)"


def _bench_json(path):
    """The repository's ``make bench`` records (the shape ``benchmarks.run`` saves)."""
    shutil.copy(os.path.join(REPO, "benchmarks", "results", "bench.json"), path)


def test_results_json_keeps_the_committed_records_in_benchmarks_results(tmp_path):
    assert report.results_json("BENCHMARKS.md") == os.path.join("benchmarks", "results", "bench.json")
    assert report.results_json(str(tmp_path / "BENCHMARKS.md"), "scale") == str(
        tmp_path / "benchmarks" / "results" / "scale.json")
    # quick and scratch reports keep their records beside them, out of the committed folder
    assert report.results_json("build/BENCHMARKS.quick.md") == "build/BENCHMARKS.quick.json"
    assert report.results_json("build/q.md", "scale") == "build/q.scale.json"
    assert os.path.exists(os.path.join(REPO, report.results_json("BENCHMARKS.md")))
    assert os.path.exists(os.path.join(REPO, report.results_json("BENCHMARKS.md", "scale")))


def test_rerender_keeps_both_sections(tmp_path):
    out = str(tmp_path / "BENCHMARKS.md")
    results = tmp_path / "benchmarks" / "results"
    results.mkdir(parents=True)
    with open(results / "scale.json", "w", encoding="utf-8") as f:
        json.dump(FAKE, f)
    scale.rerender(out)  # no make bench records yet: the Scale section alone
    alone = open(out, encoding="utf-8").read()
    assert "## Scale" in alone and "## Results" not in alone
    assert "No `benchmarks/results/bench.json` of `make bench`" in alone
    _bench_json(results / "bench.json")
    scale.rerender(out)  # bench-scale after make bench: both
    both = open(out, encoding="utf-8").read()
    assert "## Results" in both and "## Scale" in both and "### ml100k_ranking" in both
    assert both.index("## Results") < both.index("## Scale")
    assert not os.path.exists(tmp_path / "docs")  # the plot is linked, not redrawn
    # a later make bench re-render (benchmarks.run --render) keeps the Scale section
    os.remove(out)
    bench_run.render(str(results / "bench.json"),
                     argparse.Namespace(output=out, plot=str(tmp_path / "p.png")))
    again = open(out, encoding="utf-8").read()
    assert "## Results" in again and "## Scale" in again


def test_shards_split_and_chunks_fill_every_shard():
    for rows in (20, 1000, 20_000, 3_000_000, 3_000_001):
        chunk = scale_data.chunk_rows(rows)
        chunks = -(-rows // chunk)
        per_shard = -(-chunks // scale_data.NUM_SHARDS)
        assert chunk <= scale_data.MAX_CHUNK_ROWS
        assert (scale_data.NUM_SHARDS - 1) * per_shard < chunks  # the test shard has rows


def test_train_kwargs_cover_the_passes():
    kw = scale.train_kwargs(scale.ScaleSettings(passes=1.0, epochs=2), train_rows=256 * 100)
    assert kw == {"max_epochs": 2, "steps_per_epoch": 50, "optimizer": "lazy_adam"}
