"""Smoke test of the benchmark harness on tiny synthetic data (not the benchmark itself)."""
import dataclasses
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))

from benchmarks import data as bdata  # noqa: E402
from benchmarks import document, methods, report  # noqa: E402
from benchmarks.run import Settings  # noqa: E402


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    frames, dataset = bdata.synthetic_frames("ranking", 1000, seed=0)
    return bdata.transform("synthetic_ranking", frames, dataset, str(tmp_path_factory.mktemp("tft")))


def test_transform_gives_frequency_ids_and_timings(tiny):
    assert set(tiny.vocab_sizes) == set(tiny.dataset.names)
    feats, labels = tiny.splits["train"]
    assert len(labels) == tiny.size("train") > 0
    for name, size in tiny.vocab_sizes.items():
        assert feats[name].max() < size and feats[name].min() >= -1
    assert tiny.transform_s > 0 and tiny.pandas_s > 0


def test_specs_stay_within_budget(tiny):
    budget = int(0.05 * tiny.full_floats())
    grid = methods.grid_specs(tiny.vocab_sizes, budget)
    assert grid and all(s.cost() <= budget for s in grid)
    assert len({s.metadata["dim"] for s in grid}) == len(grid)
    for frac in (0.005, 0.05, 0.5):
        spec = methods.power_law_spec(tiny.vocab_sizes, int(frac * tiny.full_floats()))
        assert 0 < spec.cost() <= spec.budget
        dims = {n: f.output_dim for n, f in spec.features.items()}
        small, big = min(tiny.vocab_sizes, key=tiny.vocab_sizes.get), \
            max(tiny.vocab_sizes, key=tiny.vocab_sizes.get)
        assert dims[small] >= dims[big]


def two_features(data):
    """``data`` cut to its first two features: per-feature tuning trains one model per candidate."""
    names = list(data.vocab_sizes)[:2]
    return dataclasses.replace(
        data, dataset=dataclasses.replace(data.dataset, features=[data.dataset.feature(n) for n in names]),
        vocab_sizes={n: data.vocab_sizes[n] for n in names},
        splits={s: ({n: f[n] for n in names}, labels) for s, (f, labels) in data.splits.items()})


def test_per_feature_tuning_keeps_only_improving_moves(tiny, monkeypatch):
    toy = two_features(tiny)
    budget = int(0.1 * toy.full_floats())
    start = methods.grid_specs(toy.vocab_sizes, budget, dims=(4,))[0]
    real, epochs = methods.train_eval, []

    def screened(data, spec, seed, max_epochs=methods.MAX_EPOCHS, steps_per_epoch=None):
        epochs.append(max_epochs)
        run = real(data, spec, seed, max_epochs, steps_per_epoch=2)
        # The reference (start) scores lowest, so the first move tried is kept.
        return dataclasses.replace(run, val=-1.0 if spec is start else run.val)

    monkeypatch.setattr(methods, "train_eval", screened)
    spec, runs, secs = methods.per_feature_se(toy, budget, start, seed=0)
    assert runs >= 3 and secs > 0 and spec.cost() <= budget and set(epochs) == {1}
    first = next(iter(toy.vocab_sizes))
    assert spec.metadata["dims"][first] == 8   # one width step wider than the grid's 4
    # No candidate beats the reference: only the loop is under test, so no model is trained.
    budget = int(0.1 * tiny.full_floats())
    start = methods.grid_specs(tiny.vocab_sizes, budget, dims=(4,))[0]
    monkeypatch.setattr(methods, "train_eval", lambda data, spec, seed, max_epochs, **kw: (
        methods.RunResult(spec, 2.0 if spec is start else 0.0, {}, 0.0, 0, 0.0)))
    same, runs, _ = methods.per_feature_se(tiny, budget, start, seed=0)
    assert same is start                            # no candidate beats the reference
    assert runs == 1 + 2 * len(tiny.vocab_sizes)    # reference + each feature wider and narrower


def test_methods_and_report_end_to_end(tiny, tmp_path):
    budget = int(0.1 * tiny.full_floats())
    records = []
    for method, spec in (("Uniform SE grid", methods.grid_specs(tiny.vocab_sizes, budget)[0]),
                         ("Power-law MD", methods.power_law_spec(tiny.vocab_sizes, budget))):
        run = methods.train_eval(tiny, spec, seed=0, max_epochs=1, steps_per_epoch=3)
        assert 0.0 <= run.test["auc"] <= 1.0 and run.steps == 3
        records.append({"task": tiny.name, "budget": budget, "fraction": 0.1, "method": method,
                        "metric": "auc", "values": [run.test["auc"]] * 2, "extra": {},
                        "wall_s": run.train_s, "wall_note": "1 run", "mes": {}})
    search = methods.nis_search(tiny, budget, "SE", seed=0, warmup_steps=12, search_steps=3,
                                final_candidates=4, final_random_candidates=4, final_eval_batches=2)
    assert search.spec.cost() <= budget and search.steps == 15
    assert search.supernet_examples_per_s > 0
    mes = {n: [list(e) for e in f.entries] for n, f in search.spec.features.items()}
    records += [dict(records[0], method=f"NIS-{mode}", mes=mes) for mode in ("SE", "ME")]
    table = report.task_table(records)
    assert table.count("\n") == 5 and "NIS-ME" in table and "(baseline)" in table
    lines = report.targets(records, {"me_examples_per_s": 9.0, "se_examples_per_s": 10.0})
    assert any("throughput 0.90 -> met" in line for line in lines)
    png = tmp_path / "plot.png"
    report.plot(records, str(png))
    assert png.stat().st_size > 1000
    info = {tiny.name: {"vocab_sizes": tiny.vocab_sizes, "num_labels": None, "sizes": {},
                        "full_floats": tiny.full_floats(), "transform_s": 1.0, "pandas_s": 0.1,
                        "transform_rows": 10, "wall_s": 1.0}}
    machine = {"nproc": "2", "cpu": "x", "ram": "1 GiB", "load_average_at_start": "0",
               "python": "3", "tensorflow": "2"}
    text = document.markdown(records, {}, info, machine, Settings(quick=True), 1.0, "plot.png", None)
    assert "## Machine" in text and "QUICK" in text and "plot.png" in text
    assert "What this shows" not in text  # a quick run gets no hand-written paragraphs
    full = document.markdown(records, {}, info, machine, Settings(), 1.0, "plot.png", None)
    assert full.index("## Results") < full.index("## Throughput") < full.index("## Why the defaults")
    assert "What this shows" in full and "Findings" not in full


def test_merge_replaces_the_rerun_task_and_records_both_runs(tmp_path):
    import json
    from benchmarks import run
    machine = {"load_average_at_start": "0.1"}
    base = {"machine": machine, "settings": {}, "total_s": 600.0,
            "tasks": {"a": {"n": 1}, "b": {"n": 1}}, "perf": {"a": {"x": 1}, "b": {"x": 1}},
            "records": [{"task": "a", "v": 1}, {"task": "b", "v": 1}]}
    new = {"machine": machine, "settings": {}, "total_s": 120.0, "tasks": {"b": {"n": 2}},
           "perf": {"b": {"x": 2}}, "records": [{"task": "b", "v": 2}]}
    paths = [str(tmp_path / "base.json"), str(tmp_path / "new.json")]
    for path, raw in zip(paths, (base, new)):
        with open(path, "w") as f:
            json.dump(raw, f)
    merged = run.merge(*paths)
    assert merged["records"] == [{"task": "a", "v": 1}, {"task": "b", "v": 2}]
    assert merged["tasks"]["b"] == {"n": 2} and merged["perf"]["a"] == {"x": 1}
    assert merged["runs"][0].startswith("a, b: 10.0 min") and merged["runs"][1].startswith("re-run of b: 2.0 min")
    with open(paths[0]) as f:
        assert json.load(f) == merged



def test_finished_tasks_are_saved_to_the_results_folder(tmp_path):
    import json
    from benchmarks import run
    raw = {"tasks": {}, "perf": {}, "records": [], "total_s": 0.0}
    run._add_task(raw, ("a", {"n": 1}, {"x": 1}, [{"task": "a"}]), 0.0,  # pylint: disable=protected-access
                  str(tmp_path / "BENCHMARKS.md"))
    with open(tmp_path / "benchmarks" / "results" / "bench.json") as f:
        assert json.load(f)["records"] == [{"task": "a"}]
