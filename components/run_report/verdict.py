"""The verdict of a run, shown above its MES report: metrics, blessing, baseline, pictures.

``read_verdict`` gathers, from the run's artifacts:

* the metrics of the NIS candidate, of the same-run SE baseline (the Evaluator's
  ``ModelEvaluation``: models ``candidate`` and ``baseline``) and of the model
  that serves (the ServingEvaluator's ``baseline``, the latest blessed model;
  absent on a first run); a metric without a value (NaN, infinite, or an AUC
  over labels of one class) is "undefined", never a number
  (``components.gates.blessing.undefined_metrics``);
* the blessing decision and its reason (``BlessingGate``'s ``blessed`` and
  ``blessing_reason`` custom properties);
* the SE baseline's MES, floats and width (``mes_summary.json`` in its ``ModelRun``,
  written by ``trainer_module.model.trainer.summarize``);
* the search's history rows (reward, cost, entropy; ``SearchResult.history``).

``render_markdown`` / ``render_html`` lay it out with the pictures of
``components.run_report.plots`` (PNG bytes, embedded as data URIs).

Example::

    v = read_verdict(spec, history, evaluation, serving_evaluation, blessing,
                     baseline_model_run, key_metric="auc")
    images = pictures(v)
    html = render_html(v, images)
"""
from __future__ import annotations

import dataclasses
import html as html_lib
import json
import os
from typing import Any, Dict, List, Mapping, Optional, Sequence

from tfx import types
from tfx.dsl.io import fileio

from components.gates import blessing as blessing_lib
from components.run_report import plots
from trainer_module.spec.mes import FeatureMES, ModelSpec

CANDIDATE, SE_BASELINE, SERVING = "NIS candidate", "SE baseline", "serving model"
MES_SUMMARY_FILE, TRAINING_FILE = "mes_summary.json", "training.json"
# Counts and label means, not model quality: in the table, not in the bar chart.
NOT_PLOTTED = ("example_count", blessing_lib.MEAN_LABEL)
FLOATS_IMAGE, CURVES_IMAGE, METRICS_IMAGE = "floats_by_width", "search_curves", "metrics"


@dataclasses.dataclass
class ModelMetrics:
    """One column of the metric table: a model's overall-slice metrics, or why there are none.

    Attributes:
      label: the column's name (``CANDIDATE``, ``SE_BASELINE``, ``SERVING``).
      values: metric -> value; None when the model has no metrics (see ``missing``).
      missing: why ``values`` is None, e.g. "no serving model yet".
    """

    label: str
    values: Optional[Dict[str, float]] = None
    missing: str = ""

    @property
    def undefined(self) -> set:
        return blessing_lib.undefined_metrics(self.values) if self.values else set()

    def value(self, metric: str) -> Optional[float]:
        """The metric's value; None when undefined or absent."""
        if not self.values or metric not in self.values or metric in self.undefined:
            return None
        return self.values[metric]

    def text(self, metric: str) -> str:
        """Four significant digits, "undefined", "n/a" (not computed) or the reason for none."""
        if self.values is None:
            return self.missing or "n/a"
        if metric in self.undefined:
            return "undefined"
        value = self.value(metric)
        return "n/a" if value is None else f"{value:.4g}"


@dataclasses.dataclass
class Verdict:
    """What the top of the run page shows (see the module docstring)."""

    key_metric: str
    columns: List[ModelMetrics]
    blessed: Optional[bool]
    reason: str
    candidate: ModelSpec
    baseline: Optional[ModelSpec]
    history: List[Dict[str, Any]]

    @property
    def metric_names(self) -> List[str]:
        """Every metric of any column, the key metric first."""
        names = sorted({n for c in self.columns for n in (c.values or {})})
        return sorted(names, key=lambda n: n != self.key_metric)


def _metrics(evaluation: Optional[types.Artifact]) -> Optional[Dict[str, Dict[str, float]]]:
    return None if evaluation is None else blessing_lib.read_metrics(evaluation.uri)


def model_columns(evaluation: Optional[types.Artifact],
                  serving_evaluation: Optional[types.Artifact]) -> List[ModelMetrics]:
    """The candidate, SE baseline and serving model columns of the metric table."""
    same_run, serving = _metrics(evaluation), _metrics(serving_evaluation)
    either = same_run if same_run is not None else serving
    candidate = ModelMetrics(CANDIDATE, (either or {}).get("candidate"), "not evaluated")
    baseline = ModelMetrics(SE_BASELINE, (same_run or {}).get("baseline"),
                            "not evaluated" if same_run is None else "no SE baseline in this run")
    served = ModelMetrics(SERVING, (serving or {}).get("baseline"),
                          "no serving comparison in this pipeline" if serving is None
                          else "no serving model yet")
    return [candidate, baseline, served]


def baseline_spec(baseline_model_run: Optional[types.Artifact]) -> Optional[ModelSpec]:
    """The SE baseline's MES from the ``mes_summary.json`` its trainer wrote, or None."""
    if baseline_model_run is None:
        return None
    path = os.path.join(baseline_model_run.uri, MES_SUMMARY_FILE)
    if not fileio.exists(path):
        return None
    with fileio.open(path, "r") as f:
        summary = json.loads(f.read())
    grid = []  # the widths a baseline_dims grid trained (training.json's baseline_grid)
    record = os.path.join(baseline_model_run.uri, TRAINING_FILE)
    if fileio.exists(record):
        with fileio.open(record, "r") as f:
            grid = [g.get("dim") for g in json.loads(f.read()).get("baseline_grid") or []]
    return ModelSpec(budget=int(summary["budget"]), mode=summary["mode"],
                     features={n: FeatureMES(e) for n, e in summary["mes"].items()},
                     metadata={"baseline": summary.get("baseline"), "grid": grid},
                     accounting=summary.get("accounting", "exact"))


def read_verdict(candidate: ModelSpec, history: Sequence[Dict[str, Any]],
                 evaluation: Optional[types.Artifact] = None,
                 serving_evaluation: Optional[types.Artifact] = None,
                 blessing: Optional[types.Artifact] = None,
                 baseline_model_run: Optional[types.Artifact] = None,
                 key_metric: str = "") -> Verdict:
    """The run's verdict from its artifacts; any of them may be missing (None)."""
    blessed = reason = None
    if blessing is not None and blessing.has_custom_property(blessing_lib.BLESSED_KEY):
        blessed = blessing_lib.is_blessed(blessing)
        reason = (blessing.get_string_custom_property(blessing_lib.REASON_KEY)
                  if blessing.has_custom_property(blessing_lib.REASON_KEY) else "")
    return Verdict(key_metric, model_columns(evaluation, serving_evaluation), blessed,
                   reason or "", candidate, baseline_spec(baseline_model_run), list(history))


def pictures(v: Verdict) -> Dict[str, bytes]:
    """Name -> PNG of the verdict's pictures (a name is absent when there is nothing to draw)."""
    plotted = [m for m in v.metric_names if m not in NOT_PLOTTED]
    images = {FLOATS_IMAGE: plots.floats_by_width(v.candidate, v.baseline),
              CURVES_IMAGE: plots.search_curves(v.history),
              METRICS_IMAGE: plots.metric_bars(
                  [(c.label, None if c.values is None else {m: c.value(m) for m in c.values})
                   for c in v.columns], plotted)}
    return {k: png for k, png in images.items() if png}


# -- layout -----------------------------------------------------------------
def _delta(a: Optional[float], b: Optional[float]) -> str:
    """``a - b`` to four decimals ("+0.0000", not "-0.0000", for float noise); "-" without both."""
    return "-" if a is None or b is None else f"{round(a - b, 4) + 0.0:+.4f}"


def _width_text(spec: ModelSpec) -> str:
    widths = sorted({d for n in spec.kept_features for _, d in spec.features[n].entries})
    if len(widths) == 1:
        return f"width {widths[0]} for every kept feature"
    return "widths " + ", ".join(f"{n}: {spec.features[n].output_dim}" for n in spec.kept_features)


def _paragraphs(v: Verdict) -> Dict[str, List[str]]:
    if v.blessed is None:
        decision = "No blessing decision recorded for this run."
    else:
        decision = (f"**{'Blessed' if v.blessed else 'Not blessed'}**: {v.reason}"
                    if v.reason else f"**{'Blessed' if v.blessed else 'Not blessed'}**.")
    cand = v.candidate
    floats = [f"NIS candidate ({cand.mode}): **{cand.cost():,}** floats of a budget of "
              f"**{cand.budget:,}** ({100.0 * cand.cost() / cand.budget:.1f}%)."]
    if v.baseline is not None:
        b = v.baseline
        floats.append(f"SE baseline ({b.metadata.get('baseline') or 'uniform SE'}): "
                      f"**{b.cost():,}** floats ({100.0 * b.cost() / b.budget:.1f}% of its "
                      f"budget of {b.budget:,}), {_width_text(b)}"
                      + (f", the best on validation of widths "
                         f"{', '.join(str(d) for d in b.metadata['grid'])}"
                         if b.metadata.get("grid") else "") + ".")
    else:
        floats.append("No SE baseline in this run.")
    key = f"Key metric: **{v.key_metric}**. " if v.key_metric else ""
    metrics = [key + "\"undefined\": the metric has no value on this evaluation (NaN, or an "
               "AUC over labels of one class); \"n/a\": not computed for that model."]
    curves = (["Per history row: the controller samples' mean reward and objective, their "
               "cost / budget and that of the most probable MES, and the controller's mean "
               "per-decision entropy; the warm-up (supernet only) is shaded."]
              if v.history else ["The search recorded no history rows."])
    return {"decision": [decision], "metrics": metrics, "floats": floats, "curves": curves}


def _metric_rows(v: Verdict) -> List[List[str]]:
    cand, base, serve = v.columns
    return [[m + (" (key)" if m == v.key_metric else ""), cand.text(m), base.text(m),
             _delta(cand.value(m), base.value(m)), serve.text(m),
             _delta(cand.value(m), serve.value(m))] for m in v.metric_names]


METRIC_HEADERS = ("metric", CANDIDATE, SE_BASELINE, "candidate - SE", SERVING,
                  "candidate - serving")
FLOAT_HEADERS = ("feature", "NIS MES", "NIS floats", "SE MES", "SE floats")


def _mes_text(spec: Optional[ModelSpec], name: str) -> str:
    if spec is None or name not in spec.features:
        return "-"
    fmes = spec.features[name]
    return "removed" if fmes.removed else " + ".join(f"{r}x{d}" for r, d in fmes.entries)


def _float_rows(v: Verdict) -> List[List[str]]:
    names = list(v.candidate.features) + [n for n in (v.baseline.features if v.baseline else {})
                                          if n not in v.candidate.features]

    def cost(spec, name):
        return (f"{spec.features[name].cost(spec.accounting):,}"
                if spec is not None and name in spec.features else "-")
    return [[n, _mes_text(v.candidate, n), cost(v.candidate, n), _mes_text(v.baseline, n),
             cost(v.baseline, n)] for n in names]


TITLE = "Neural Input Search run: verdict"
DECISION_TITLE = "Blessing decision"
_DECISION_STYLE = {True: "background:#e6f4ea;border-left:6px solid #188038;padding:6px 10px",
                   False: "background:#fce8e6;border-left:6px solid #c5221f;padding:6px 10px"}


def _blocks(v: Verdict) -> List[tuple]:
    """(title, paragraphs, headers, rows, image name) of each verdict section."""
    p = _paragraphs(v)
    return [(DECISION_TITLE, p["decision"], (), (), None),
            ("Metrics: candidate, SE baseline and serving model", p["metrics"], METRIC_HEADERS,
             _metric_rows(v), METRICS_IMAGE),
            ("Embedding floats: candidate and SE baseline", p["floats"], FLOAT_HEADERS,
             _float_rows(v), FLOATS_IMAGE),
            ("Search curves", p["curves"], (), (), CURVES_IMAGE)]


def render_markdown(v: Verdict, images: Mapping[str, bytes]) -> str:
    """Markdown of the verdict, pictures embedded as data URIs."""
    lines = [f"# {TITLE}", ""]
    for title, paragraphs, headers, rows, image in _blocks(v):
        lines += [f"## {title}", ""]
        for text in paragraphs:
            lines += [text, ""]
        if headers:
            lines.append("| " + " | ".join(headers) + " |")
            lines.append("|" + "---|" * len(headers))
            lines += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
            lines.append("")
        if image in images:
            lines += [f"![{title}]({plots.data_uri(images[image])})", ""]
    return "\n".join(lines)


def _inline(text: str) -> str:
    parts = html_lib.escape(text).split("**")
    return "".join(f"<b>{s}</b>" if i % 2 else s for i, s in enumerate(parts))


def render_html(v: Verdict, images: Mapping[str, bytes]) -> str:
    """An HTML fragment of the verdict (a ``<section>``), pictures as data-URI ``<img>``."""
    body = [f"<h1>{html_lib.escape(TITLE)}</h1>"]
    for title, paragraphs, headers, rows, image in _blocks(v):
        body.append(f"<h2>{html_lib.escape(title)}</h2>")
        style = (f' style="{_DECISION_STYLE[v.blessed]}"' if title == DECISION_TITLE
                 and v.blessed is not None else "")
        body += [f"<p{style}>{_inline(t)}</p>" for t in paragraphs]
        if headers:
            head = "".join(f"<th>{html_lib.escape(h)}</th>" for h in headers)
            cells = "".join("<tr>" + "".join(f"<td>{html_lib.escape(c)}</td>" for c in r)
                            + "</tr>" for r in rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{cells}</tbody></table>")
        if image in images:
            body.append(f'<p><img class="plot" alt="{html_lib.escape(title, quote=True)}" '
                        f'src="{plots.data_uri(images[image])}"></p>')
    return '<section id="verdict">' + "".join(body) + "</section>"

