"""RunReport.render: the verdict above the MES report (changes since the previous blessed MES, log links)."""
import os

from tfx.types import standard_artifacts

from components import artifacts
from components.mes_trainer import executor as trainer_executor
from components.run_report import component as run_report
from trainer_module.search.config import SearchResult
from trainer_module.spec.mes import FeatureMES, ModelSpec


def _spec(rows):
    return ModelSpec(budget=10_000, mode="ME", features={"item": FeatureMES([(rows, 16)])})


def _mes(tmp_path, name, rows):
    mes = artifacts.MultiSizeEmbeddingSpec()
    mes.uri = str(tmp_path / name)
    artifacts.write_mes(mes, _spec(rows))
    return mes


def test_report_diffs_with_the_previous_models_mes_and_links_logs(tmp_path):
    previous_mes, mes = _mes(tmp_path, "mes0", 100), _mes(tmp_path, "mes1", 120)
    # The trainer of the previous run recorded its MES on the model (what the resolver returns).
    previous_model = standard_artifacts.Model()
    trainer_executor.record_embedding_spec({"embedding_spec": [previous_mes]},
                                           {"model": [previous_model]})
    results = artifacts.SearchResults()
    results.uri = str(tmp_path / "results")
    artifacts.write_search_results(results, SearchResult(_spec(120), [], {}), "ranking")
    model_run = standard_artifacts.ModelRun()
    model_run.uri = str(tmp_path / "model_run")
    markdown, html = run_report.render(mes, results, model_run, None, previous_model)
    assert "item | 100 -> 120 (+20) | 16 | 1,600 -> 1,920 (+320)" in markdown
    assert f"[search: {os.path.join(results.uri, 'logs')}]" in markdown
    assert f"NIS trainer: {model_run.uri}" in html and "SE baseline trainer" not in html
    # First run: nothing resolved, no changes section.
    first, _ = run_report.render(mes, results)
    assert "Changes since" not in first


def test_the_verdict_comes_above_the_mes_report(fake_run):
    markdown, html = run_report.render(**fake_run)
    for text in (markdown, html):
        verdict_at = text.index("Neural Input Search run: verdict")
        assert verdict_at < text.index("Blessing decision") < text.index("Search curves") \
            < text.index("Neural Input Search: Multi-size Embedding Spec")
    assert markdown.startswith("# Neural Input Search run: verdict")
    assert html.startswith("<!DOCTYPE html>") and html.count("<img ") == 3
    assert '<section id="verdict">' in html and "<b>Blessed</b>: every comparison blessed it" in html
    assert "| auc (key) | 0.71 | 0.69 | +0.0200 | 0.7 | +0.0100 |" in markdown
