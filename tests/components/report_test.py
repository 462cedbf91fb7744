"""report.py: Markdown/HTML rendering of an MES and its search, KFP viewer metadata."""
from components.neural_input_search import report
from trainer_module.search.config import SearchResult
from trainer_module.search.space import SearchSpace
from trainer_module.spec.mes import FeatureMES, ModelSpec

EQUAL = {"num_dim_chunks": 4}  # the paper's four 8-wide chunks
SPACE = SearchSpace.from_vocab_sizes({"item": 1000, "user": 50}, budget=20_000, mode="ME",
                                     overrides={"item": EQUAL, "user": EQUAL})


def _result(fallback=False):
    spec = ModelSpec(budget=20_000, mode="ME",
                     features={"item": FeatureMES([(100, 32), (400, 8)]), "user": FeatureMES([])},
                     metadata={"budget_fallback": fallback,
                               **({"reason": "most probable costs 30000"} if fallback else {})})
    probs = {"item": [[0.1, 0.7, 0.1, 0.05, 0.03, 0.02]] * 4, "user": [[0.9, 0.1, 0, 0, 0, 0]] * 4}
    history = [{"step": 10, "phase": "warmup", "mean_reward": None},
               {"step": 20, "phase": "search", "mean_reward": 0.61, "mean_objective": 0.7,
                "mean_cost_ratio": 0.45}]
    return SearchResult(spec=spec, history=history, probabilities=probs)


def test_markdown_has_features_cost_probabilities_and_history():
    md = report.render_markdown(_result().spec, _result(), SPACE, task="ranking")
    # tables, projections (P_2: 8 x 32), total floats, bytes at float32, % of budget
    assert "| item | 100x32 + 400x8 | 32 | 500 | 6,400 | 256 | 6,656 | 26,624 | 33.3 |" in md
    assert "| user | removed |" in md
    assert "**6,656** floats (26,624 bytes at float32) of a budget of **20,000**" in md
    assert "6,400 floats in tables and 256 in projection matrices, both counted" in md
    assert "| item | dim chunk 1 (8 dims) | s=1: 0.70, " in md
    assert "| 20 | search | 0.61 |" in md and "| 10 | warmup | - |" in md
    assert "Budget fallback" not in md and "Memory plan" not in md
    # Width per row block of item: 100 rows at 32, then 400 rows at 8, rest 0.
    assert "32 8 8 0 0" in md


def test_final_selection_note():
    res = _result()
    meta = {"final_selection": {"candidates": 33, "examples_per_candidate": 8000,
                                "chosen": "sample 4", "chosen_objective": 0.7712,
                                "most_probable_objective": 0.765}}
    spec = ModelSpec(budget=res.spec.budget, mode="ME", features=res.spec.features, metadata=meta)
    md = report.render_markdown(spec, res, SPACE)
    assert "**Final selection:** 33 feasible configurations" in md
    assert "8,000 validation examples" in md and "sample 4 scored 0.7712 (most probable: 0.7650)" in md
    meta["final_selection"].update(candidates=257, finalists=33, screening_examples=4000,
                                   examples_per_candidate=16000)
    spec = ModelSpec(budget=res.spec.budget, mode="ME", features=res.spec.features, metadata=meta)
    md = report.render_markdown(spec, res, SPACE)
    assert ("257 feasible configurations (the most probable one and controller samples) were "
            "screened by the supernet on 4,000 validation examples each, and the best 33 scored "
            "on 16,000 validation examples each") in md


def test_fallback_note_and_bare_spec():
    res = _result(fallback=True)
    md = report.render_markdown(res.spec, res)
    assert "**Budget fallback:**" in md and "most probable costs 30000" in md
    assert "Controller probabilities" in md and "Search progress" in md
    bare = report.render_markdown(res.spec)
    assert "Controller probabilities" not in bare


def test_html_is_escaped_and_complete():
    res = _result(fallback=True)
    html = report.render_html(res.spec, res, SPACE, task="retrieval")
    assert html.startswith("<!DOCTYPE html>") and html.endswith("</html>")
    assert "<td>100x32 + 400x8</td>" in html and "<b>Budget fallback:</b>" in html
    spec = ModelSpec(budget=10, mode="SE", features={"<b>x": FeatureMES([(1, 1)])})
    assert "&lt;b&gt;x" in report.render_html(spec)


def test_se_probability_labels():
    space = SearchSpace.from_vocab_sizes({"item": 1000}, budget=20_000, mode="SE",
                                         overrides={"item": EQUAL})
    spec = ModelSpec(budget=20_000, mode="SE", features={"item": FeatureMES([(100, 8)])})
    probs = {"item": [[0.0] * 5 + [0.8] + [0.2 / 15] * 15]}
    res = SearchResult(spec=spec, history=[], probabilities=probs)
    assert "(s=2,t=1): 0.80" in report.render_markdown(spec, res, space)


def test_ui_metadata_viewers():
    meta = report.ui_metadata("# md", "<html></html>", log_dir="/logs")
    assert [o["type"] for o in meta["outputs"]] == ["markdown", "web-app", "tensorboard"]
    assert meta["outputs"][0] == {"type": "markdown", "storage": "inline", "source": "# md"}
    assert len(report.ui_metadata("# md")["outputs"]) == 1


def test_memory_plan_section():
    res = _result()
    res.memory_plan = {"supernet_bytes": 1 << 30, "supernet_slot_bytes": 2 << 30,
                       "final_model_bytes": 3 << 29, "total_bytes": 9 << 29, "limit_bytes": 10 << 30}
    md = report.render_markdown(res.spec, res, SPACE, task="ranking")
    assert ("memory plan: 4.50 GiB = supernet 1.00 GiB + optimizer slots 2.00 GiB + final model "
            "with slots up to 1.50 GiB; checked against 10,737,418,240 bytes.") in md


def test_changes_since_the_previous_mes_and_log_links():
    result = _result()
    previous = ModelSpec(budget=20_000, mode="ME",
                         features={"item": FeatureMES([(100, 32), (200, 8)]),
                                   "user": FeatureMES([(50, 8)])})
    links = {"search": "gs://b/nis/logs", "trainer": "/local/model_run"}
    md = report.render_markdown(result.spec, result, SPACE, task="ranking", previous=previous,
                                links=links)
    assert "## Changes since the previous blessed MES" in md
    assert "2 of 2 feature(s) changed (item, user); total cost 5,456 -> 6,656 (+1,200)" in md
    assert "| item | 300 -> 500 (+200) | 32 | 5,056 -> 6,656 (+1,600) |" in md
    assert "| user | 50 -> 0 (-50) | 8 -> 0 (-8) |" in md
    assert "- [search: gs://b/nis/logs](https://console.cloud.google.com/storage/browser/b/nis/logs)" in md
    html = report.render_html(result.spec, result, SPACE, task="ranking", previous=previous,
                              links=links)
    assert "<h2>Changes since the previous blessed MES</h2>" in html
    assert '<a href="/local/model_run">trainer: /local/model_run</a>' in html
    assert "Changes since" not in report.render_markdown(result.spec, result, SPACE)
