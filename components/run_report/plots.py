"""The run page's pictures: matplotlib (Agg canvas, no pyplot state) figures as PNG bytes.

* ``floats_by_width``: the floats of each feature split by block width, the NIS
  candidate's MES next to the SE baseline's;
* ``search_curves``: reward, cost / budget and controller entropy over the search's
  history rows (``trainer_module.search.checkpointing.progress_row``);
* ``metric_bars``: one panel per metric, a bar per model (candidate, SE baseline,
  serving model); a metric without a value is written, not drawn.

``data_uri`` turns the bytes into an ``<img src>`` / Markdown image target.

Example::

    png = floats_by_width(candidate_spec, baseline_spec)
    html = f'<img src="{data_uri(png)}">'
"""
from __future__ import annotations

import base64
import io
import math
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from trainer_module.spec.mes import ModelSpec

DPI = 100
_MODEL_COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd")


def data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def _png(fig: Figure) -> bytes:
    FigureCanvasAgg(fig)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI, metadata={"Software": None})
    return buf.getvalue()


def block_floats(spec: ModelSpec, name: str) -> List[Tuple[int, int]]:
    """(width, floats) of each block of feature ``name``: its table rows times its width, plus
    the projection to the feature's width when the spec's accounting counts projections."""
    fmes = spec.features[name]
    out = []
    for i, (rows, dim) in enumerate(fmes.entries):
        floats = rows * dim
        if i > 0 and spec.accounting == "exact":
            floats += dim * fmes.output_dim
        out.append((dim, floats))
    return out


def floats_by_width(candidate: ModelSpec, baseline: Optional[ModelSpec] = None) -> bytes:
    """Horizontal stacked bars: per feature, the floats of each block width (one color per
    width), the candidate's bar above the baseline's."""
    specs = [("NIS", candidate)] + ([("SE", baseline)] if baseline is not None else [])
    names = list(candidate.features) + [n for n in (baseline.features if baseline else {})
                                        if n not in candidate.features]
    widths = sorted({d for _, s in specs for n in s.features for d, _ in block_floats(s, n)},
                    reverse=True)
    cmap = _width_colors(widths)
    fig = Figure(figsize=(8, 0.5 + 0.45 * len(names) * len(specs) + 0.6))
    ax = fig.add_subplot(1, 1, 1)
    labels, y = [], 0.0
    for name in names:
        for label, spec in specs:
            left = 0
            for dim, floats in block_floats(spec, name) if name in spec.features else []:
                ax.barh(y, floats, left=left, color=cmap[dim], edgecolor="white")
                left += floats
            if name not in spec.features or spec.features[name].removed:
                ax.text(0, y, " removed" if name in spec.features else " absent",
                        va="center", fontsize=8, color="#666")
            labels.append((y, f"{name} ({label})"))
            y += 1
        y += 0.5
    ax.set_yticks([p for p, _ in labels], [t for _, t in labels], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("floats")
    ax.set_title("Embedding floats per feature, split by block width")
    if widths:
        from matplotlib.patches import Patch  # pylint: disable=import-outside-toplevel
        ax.legend(handles=[Patch(color=cmap[d], label=f"width {d}") for d in widths],
                  fontsize=8, loc="lower right")
    return _png(fig)


def _width_colors(widths: Sequence[int]) -> Dict[int, Any]:
    from matplotlib import colormaps  # pylint: disable=import-outside-toplevel
    cmap = colormaps["viridis"]
    n = max(len(widths) - 1, 1)
    return {d: cmap(0.85 * i / n) for i, d in enumerate(widths)}


def _series(history: Sequence[Mapping[str, Any]], key: str) -> Tuple[List[float], List[float]]:
    points = [(float(h["step"]), float(h[key])) for h in history
              if h.get(key) is not None and math.isfinite(float(h[key]))]
    return [p[0] for p in points], [p[1] for p in points]


def search_curves(history: Sequence[Mapping[str, Any]]) -> Optional[bytes]:
    """Three panels over the search's steps: mean reward (and objective), cost / budget of the
    controller's samples and of its most probable MES, and the controller's entropy; the
    warm-up is shaded. None without history rows."""
    if not history:
        return None
    fig = Figure(figsize=(11, 3.2))
    panels = [("reward", [("mean_reward", "mean reward"), ("mean_objective", "mean objective")]),
              ("cost / budget", [("mean_cost_ratio", "samples (mean)"),
                                 ("most_probable_cost_ratio", "most probable MES")]),
              ("controller entropy (nats)", [("controller_entropy", "mean per decision")])]
    warm = [float(h["step"]) for h in history if h.get("phase") == "warmup"]
    for i, (title, keys) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        drawn = False
        for (key, label), color in zip(keys, _MODEL_COLORS):
            steps, values = _series(history, key)
            if steps:
                ax.plot(steps, values, marker="." if len(steps) < 30 else None, color=color,
                        label=label)
                drawn = True
        if warm:
            ax.axvspan(0, max(warm), color="#ddd", alpha=0.6, lw=0, label="warm-up")
        if title.startswith("cost"):
            ax.axhline(1.0, color="#c00", lw=0.8, ls="--", label="budget")
        if not drawn:
            ax.text(0.5, 0.5, "not recorded", ha="center", va="center", transform=ax.transAxes,
                    color="#666")
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("step")
        ax.legend(fontsize=7)
    return _png(fig)


def metric_bars(columns: Sequence[Tuple[str, Optional[Mapping[str, Optional[float]]]]],
                metrics: Sequence[str]) -> Optional[bytes]:
    """One panel per metric, one bar per model column (label, metric -> value or None for
    undefined; None for a model with no metrics), each bar labelled with its value; a model
    whose metric is undefined or missing gets that word instead of a bar. None without
    metrics."""
    if not metrics:
        return None
    cols = min(len(metrics), 4)
    rows = math.ceil(len(metrics) / cols)
    fig = Figure(figsize=(2.9 * cols + 0.5, 2.8 * rows))
    labels = [label for label, _ in columns]
    for i, metric in enumerate(metrics):
        ax = fig.add_subplot(rows, cols, i + 1)
        for x, ((label, values), color) in enumerate(zip(columns, _MODEL_COLORS)):
            value = None if values is None else values.get(metric)
            if value is None or not math.isfinite(value):
                word = "no model" if values is None else (
                    "undefined" if metric in values else "n/a")
                ax.text(x, 0, word, ha="center", va="bottom", rotation=90, fontsize=8,
                        color="#666")
                continue
            ax.bar(x, value, color=color)
            ax.text(x, value, f"{value:.4g}", ha="center", va="bottom", fontsize=8)
        ax.set_xticks(range(len(labels)), labels, fontsize=8, rotation=15)
        ax.set_xlim(-0.6, len(labels) - 0.4)
        ax.margins(y=0.2)
        ax.set_title(metric, fontsize=10)
    return _png(fig)
