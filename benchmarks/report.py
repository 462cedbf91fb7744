"""BENCHMARKS.md tables and the metric-vs-memory plot from the harness's result records.

A result record (one per task x budget x method) is a dict::

    {"task": "ml100k_ranking", "budget": 6817, "fraction": 0.06, "method": "NIS-ME",
     "metric": "auc", "values": [..per seed..], "extra": {"recall_at_5": [...]},
     "wall_s": 95.1, "wall_note": "search 80.2 + retrain 14.9", "mes": {...}}
"""
from __future__ import annotations

import os
import statistics
from typing import Dict, List, Mapping, Sequence

ABLATION = "NIS-ME as in the paper (ablation: every paper element, docs/architecture.md)"
PER_FEATURE = "Per-feature SE (grid + hand tuning per feature)"
RANDOM_ORDER = "NIS-ME, random feature order"
METHODS = ("Uniform SE grid", PER_FEATURE, "Power-law MD", "NIS-SE", "NIS-ME", RANDOM_ORDER,
           ABLATION)
# Raw records of the committed report, relative to the folder of BENCHMARKS.md.
RESULTS_DIR = os.path.join("benchmarks", "results")
# make bench, make bench-scale, make bench-diagnose, make bench-baselines
RESULTS_FILES = {"bench": "bench.json", "scale": "scale.json", "diagnostics": "diagnostics.json",
                 "baselines": "baselines.json"}
_SUFFIXES = {"bench": ".json", "scale": ".scale.json", "diagnostics": ".diagnostics.json",
             "baselines": ".baselines.json"}


def results_json(output: str, kind: str = "bench") -> str:
    """Where the raw records of ``kind`` ("bench" or "scale") behind the report ``output`` live.

    For ``BENCHMARKS.md`` (``make bench``, ``make bench-scale``): ``benchmarks/results/bench.json``
    and ``benchmarks/results/scale.json`` beside it; any other report (quick runs, scratch
    outputs) keeps ``<output stem>.json`` / ``<output stem>.scale.json`` next to itself.
    """
    if os.path.basename(output) == "BENCHMARKS.md":
        return os.path.join(os.path.dirname(output), RESULTS_DIR, RESULTS_FILES[kind])
    return os.path.splitext(output)[0] + _SUFFIXES[kind]


def mean_std(values: Sequence[float]) -> tuple:
    vals = [float(v) for v in values]
    return statistics.fmean(vals), (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def fmt_ms(values: Sequence[float], scale: float = 100.0) -> str:
    m, s = mean_std(values)
    return f"{m * scale:.2f} ± {s * scale:.2f}"


def rel_diff(values: Sequence[float], baseline: Sequence[float]) -> str:
    """The paper's style: relative change of the mean vs the baseline's mean, in percent."""
    m, b = mean_std(values)[0], mean_std(baseline)[0]
    return "—" if not b else f"{(m - b) / b * 100:+.2f}%"


def fmt_mes(mes: Mapping[str, List[List[int]]]) -> str:
    parts = []
    for name, entries in mes.items():
        text = "–" if not entries else "+".join(f"{v}x{d}" for v, d in entries)
        parts.append(f"{name}: {text}")
    return "<br>".join(parts)


def task_table(records: List[Dict]) -> str:
    """One markdown table: every budget x method of one task."""
    metric = records[0]["metric"]
    extras = sorted({k for r in records for k in r.get("extra", {})})
    head = ["budget (floats)", "% of full d=32", "method", f"{metric} ×100 (mean ± sd)"]
    head += [f"{k} ×100" for k in extras]
    head += ["rel. diff vs baseline", "wall time (s)", "MES per feature (seed-0 search)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for budget in sorted({r["budget"] for r in records}):
        rows = {r["method"]: r for r in records if r["budget"] == budget}
        base = rows.get(METHODS[0])
        for method in METHODS:
            r = rows.get(method)
            if r is None:
                continue
            cells = [f"{budget:,}", f"{r['fraction'] * 100:g}%", method, fmt_ms(r["values"])]
            cells += [fmt_ms(r["extra"][k]) if k in r.get("extra", {}) else "" for k in extras]
            cells += ["(baseline)" if method == METHODS[0] else
                      (rel_diff(r["values"], base["values"]) if base else "—"),
                      f"{r['wall_s']:.0f} ({r['wall_note']})", fmt_mes(r["mes"])]
            lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot(records: List[Dict], path: str) -> None:
    """Metric vs budget (log x) per task, one line per method, error bars = seed sd."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    tasks = list(dict.fromkeys(r["task"] for r in records))
    fig, axes = plt.subplots(1, len(tasks), figsize=(5 * len(tasks), 4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        recs = [r for r in records if r["task"] == task]
        for method in METHODS:
            pts = sorted((r["budget"], *mean_std(r["values"])) for r in recs if r["method"] == method)
            if pts:
                xs, ms, ss = zip(*pts)
                ax.errorbar(xs, [m * 100 for m in ms], yerr=[s * 100 for s in ss], marker="o",
                            capsize=3, label=method)
        ax.set_xscale("log")
        ax.set_xlabel("embedding floats (budget)")
        ax.set_ylabel(f"test {recs[0]['metric']} ×100")
        ax.set_title(task)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


# ----------------------------------------------------------------- targets and the document
def compare(a: Sequence[float], b: Sequence[float]) -> str:
    """'better'/'tie'/'worse': a vs b beyond the seed spread (mean gap vs sd_a + sd_b)."""
    (ma, sa), (mb, sb) = mean_std(a), mean_std(b)
    if ma - mb > sa + sb:
        return "better"
    if mb - ma > sa + sb:
        return "worse"
    return "tie (within spread)"


def targets(records: List[Dict], perf: Dict) -> List[str]:
    """Markdown bullet lines checking the issue's targets for one task."""
    lines = []
    by = {(r["budget"], r["method"]): r for r in records}
    budgets = sorted({r["budget"] for r in records})
    for b in budgets:
        me, se, grid = by[(b, "NIS-ME")], by[(b, "NIS-SE")], by[(b, METHODS[0])]
        c1, c2 = compare(me["values"], se["values"]), compare(se["values"], grid["values"])
        ok = c1 != "worse" and c2 != "worse" and "better" in (c1, c2)
        lines.append(f"- budget {b:,}: NIS-ME vs NIS-SE **{c1}**, NIS-SE vs grid **{c2}** "
                     f"-> {'met' if ok and c1 == c2 == 'better' else 'not met'}")
    tight = budgets[0]
    four = [r for r in records if r["method"] == METHODS[0] and r["fraction"] > 0
            and abs(r["budget"] / tight - 4) < 0.05]
    if four:
        gap = (mean_std(by[(tight, "NIS-ME")]["values"])[0] - mean_std(four[0]["values"])[0]) * 100
        lines.append(f"- NIS-ME at {tight:,} vs best uniform SE at {four[0]['budget']:,} (4x): "
                     f"{gap:+.2f} pt -> {'met' if gap >= -0.2 else 'not met'} (target >= -0.2 pt)")
    for b in budgets:
        nis = max(by[(b, "NIS-SE")]["wall_s"], by[(b, "NIS-ME")]["wall_s"])
        g = by[(b, METHODS[0])]["wall_s"]
        tuned = by.get((b, PER_FEATURE))
        also = (f"; vs grid + per-feature tuning {tuned['wall_s']:.0f}s (ratio "
                f"{nis / tuned['wall_s']:.2f})" if tuned else "")
        lines.append(f"- budget {b:,}: slower NIS search + retrain {nis:.0f}s vs grid {g:.0f}s "
                     f"(ratio {nis / g:.2f}) -> {'met' if nis <= g / 3 else 'not met'} (target <= 1/3)"
                     + also)
    if perf.get("me_examples_per_s") and perf.get("se_examples_per_s"):
        r = perf["me_examples_per_s"] / perf["se_examples_per_s"]
        lines.append(f"- final ME / same-budget SE throughput {r:.2f} -> "
                     f"{'met' if r >= 0.9 else 'not met'} (target >= 0.9)")
    if perf.get("me_examples_per_s") and perf.get("same_widths_se_examples_per_s"):
        r = perf["me_examples_per_s"] / perf["same_widths_se_examples_per_s"]
        lines.append(f"- final ME / SE with the ME's widths (same tower input; the ME lookup's "
                     f"own cost) {r:.2f}")
    if perf.get("supernet_examples_per_s") and perf.get("full_se_examples_per_s"):
        r = perf["supernet_examples_per_s"] / perf["full_se_examples_per_s"]
        lines.append(f"- supernet / full-size SE throughput {r:.2f} -> "
                     f"{'met' if r >= 0.5 else 'not met'} (target >= 0.5)")
    return lines


def perf_table(perfs: Dict[str, Dict], tasks: Dict[str, Dict]) -> str:
    head = ["task", "budget", "supernet (search warm-up)", "final NIS-ME model",
            "same-budget SE (grid best)", "SE with the ME's widths", "full-size SE (supernet's size)",
            "search overhead", "Transform (Beam) s", "pandas value_counts s"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, p in perfs.items():
        t = tasks[name]
        lines.append("| " + " | ".join([
            name, f"{p.get('budget', 0):,}", f"{p.get('supernet_examples_per_s', 0):,.0f}",
            f"{p.get('me_examples_per_s', 0):,.0f}", f"{p.get('se_examples_per_s', 0):,.0f}",
            f"{p.get('same_widths_se_examples_per_s', 0):,.0f}", f"{p.get('full_se_examples_per_s', 0):,.0f}",
            f"{p.get('search_overhead', 0):.1f}x ({p.get('search_s', 0):.0f}s / "
            f"{p.get('final_same_steps_s', 0):.0f}s)",
            f"{t['transform_s']:.1f} ({t['transform_rows']:,} rows)", f"{t['pandas_s']:.2f}"]) + " |")
    return "\n".join(lines)
