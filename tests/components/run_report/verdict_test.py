"""The run's verdict: three models' metrics, the blessing, the SE baseline and the pictures."""
import io
import re

import numpy as np
import pytest
from matplotlib import image as mpimg

from components.run_report import plots
from components.run_report import verdict
import fakes
from fakes import (BASELINE, CANDIDATE, CANDIDATE_METRICS, BASELINE_METRICS, blessing_artifact,
                      history_rows, write_evaluation)


def _verdict(run, **overrides):
    args = {k: run[k] for k in ("evaluation", "serving_evaluation", "blessing",
                                "baseline_model_run", "key_metric")}
    args.update(overrides)
    return verdict.read_verdict(CANDIDATE, history_rows(), **args)


def _row(markdown, metric):
    return next(line for line in markdown.splitlines() if line.startswith(f"| {metric}"))


def test_metrics_of_candidate_baseline_and_serving_model_side_by_side(fake_run):
    v = _verdict(fake_run)
    markdown = verdict.render_markdown(v, {})
    assert _row(markdown, "auc") == "| auc (key) | 0.71 | 0.69 | +0.0200 | 0.7 | +0.0100 |"
    assert v.metric_names[0] == "auc"  # the key metric first
    assert "| example_count | 300 | 300 | +0.0000 | 300 | +0.0000 |" in markdown
    assert verdict._delta(1.137, 1.137 + 1e-9) == "+0.0000"  # float noise is no change
    html = verdict.render_html(v, {})
    assert "<td>auc (key)</td><td>0.71</td><td>0.69</td><td>+0.0200</td>" in html


@pytest.mark.parametrize("candidate,expected", [
    ({**CANDIDATE_METRICS, "mean_label": 0.0}, "undefined"),     # one class: TFMA's AUC 0.0
    ({**CANDIDATE_METRICS, "auc": float("nan")}, "undefined"),
    ({k: v for k, v in CANDIDATE_METRICS.items() if k != "auc"}, "n/a")])
def test_a_metric_without_a_value_is_never_printed_as_a_number(tmp_path, fake_run, candidate,
                                                                expected):
    evaluation = write_evaluation(str(tmp_path / "odd"), {"candidate": candidate,
                                                          "baseline": BASELINE_METRICS})
    v = _verdict(fake_run, evaluation=evaluation)
    markdown = verdict.render_markdown(v, {})
    assert _row(markdown, "auc") == f"| auc (key) | {expected} | 0.69 | - | 0.7 | - |"
    table = [line for line in markdown.splitlines() if line.startswith("|")]
    assert not any(re.search(r"\b(nan|inf)\b", line.lower()) for line in table)
    # The bar chart gets no value for it either.
    assert v.columns[0].value("auc") is None


def test_first_run_and_missing_inputs_render_gracefully(tmp_path, fake_run):
    first = write_evaluation(str(tmp_path / "first_serving"), {"candidate": CANDIDATE_METRICS})
    markdown = verdict.render_markdown(_verdict(fake_run, serving_evaluation=first), {})
    assert _row(markdown, "auc").endswith("| no serving model yet | - |")
    bare = verdict.read_verdict(CANDIDATE, [])
    markdown = verdict.render_markdown(bare, verdict.pictures(bare))
    assert "No blessing decision recorded" in markdown and "No SE baseline in this run" in markdown
    assert "The search recorded no history rows" in markdown
    assert set(verdict.pictures(bare)) == {verdict.FLOATS_IMAGE}  # no metrics, no history
    no_serving = _verdict(fake_run, serving_evaluation=None)
    assert "no serving comparison in this pipeline" in verdict.render_markdown(no_serving, {})
    only_candidate = write_evaluation(str(tmp_path / "no_baseline"),
                                      {"candidate": CANDIDATE_METRICS})
    markdown = verdict.render_markdown(_verdict(fake_run, evaluation=only_candidate), {})
    assert "| auc (key) | 0.71 | no SE baseline in this run | - |" in markdown


def test_blessing_decision_and_its_reason(tmp_path, fake_run):
    reason = "Evaluator (threshold, same-run SE baseline) comparison did not bless it"
    v = _verdict(fake_run, blessing=blessing_artifact(str(tmp_path / "b"), False, reason))
    assert f"**Not blessed**: {reason}" in verdict.render_markdown(v, {})
    assert f"<b>Not blessed</b>: {reason}" in verdict.render_html(v, {})
    assert "**Blessed**: every comparison blessed it" in verdict.render_markdown(
        _verdict(fake_run), {})


def test_baseline_floats_and_width_from_its_model_run(tmp_path, fake_run):
    v = _verdict(fake_run)
    assert v.baseline.cost() == BASELINE.cost()
    markdown = verdict.render_markdown(v, {})
    assert (f"SE baseline (uniform_se): **{BASELINE.cost():,}** floats "
            f"({100.0 * BASELINE.cost() / BASELINE.budget:.1f}% of its budget of 10,000), "
            "width 4 for every kept feature.") in markdown
    assert f"NIS candidate (ME): **{CANDIDATE.cost():,}** floats" in markdown
    assert "| item | 100x16 + 200x4 | 2,464 | 300x4 | 1,200 |" in markdown
    assert "| genre | removed | 0 | 5x4 | 20 |" in markdown
    grid = fakes.baseline_model_run(str(tmp_path / "grid"), grid=(2, 4, 8))
    assert "width 4 for every kept feature, the best on validation of widths 2, 4, 8." in \
        verdict.render_markdown(_verdict(fake_run, baseline_model_run=grid), {})


def _decode(png: bytes) -> np.ndarray:
    return mpimg.imread(io.BytesIO(png), format="png")


def test_pictures_are_embedded_pngs_with_content(fake_run):
    v = _verdict(fake_run)
    images = verdict.pictures(v)
    assert set(images) == {verdict.FLOATS_IMAGE, verdict.CURVES_IMAGE, verdict.METRICS_IMAGE}
    for name, png in images.items():
        pixels = _decode(png)
        assert pixels.shape[0] > 100 and pixels.shape[1] > 300, name
        assert len(np.unique(pixels.reshape(-1, pixels.shape[-1]), axis=0)) > 20, name
    html, markdown = verdict.render_html(v, images), verdict.render_markdown(v, images)
    for png in images.values():
        assert f'src="{plots.data_uri(png)}"' in html and f"({plots.data_uri(png)})" in markdown
    assert html.count("<img ") == 3 and markdown.count("![") == 3
