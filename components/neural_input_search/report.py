"""Human-readable report of one search: pure functions, spec + result -> Markdown / HTML.

The same sections render to Markdown (``report.md``, the KFP v1 ``markdown``
viewer) and to a self-contained HTML page (``report.html``, the KFP v1
``web-app`` viewer, or opened from the artifact's URI on Vertex).

Example::

    md = render_markdown(spec, result, space)
    html = render_html(spec, result, space)
    meta = ui_metadata(md, html, log_dir="gs://.../logs")   # /mlpipeline-ui-metadata.json
"""
from __future__ import annotations

import html as html_lib
import json
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence, Tuple

from trainer_module.search.space import memory_plan
from trainer_module.spec import diff as spec_diff
from trainer_module.search.space import SearchSpace
from trainer_module.spec.mes import SERVING_BYTES_PER_FLOAT, ModelSpec

_TOP_CATEGORIES = 3


class Section(NamedTuple):
    title: str
    paragraphs: List[str]
    headers: Sequence[str] = ()
    rows: Sequence[Sequence[Any]] = ()
    links: Sequence[Tuple[str, str]] = ()  # (label, URI)


def _fmt(x: Any) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.4g}"
    if isinstance(x, int) and not isinstance(x, bool):
        return f"{x:,}"
    return str(x)


def _row_block_widths(spec: ModelSpec, space: SearchSpace, name: str) -> str:
    """Width each row block of the feature's grid gets, e.g. ``32 32 8 8 0``."""
    fmes = spec.features[name]
    starts = space.feature(name).cum_vocab[:-1]
    return " ".join(str(fmes.width_at(start)) for start in starts)


def _feature_section(spec: ModelSpec, space: Optional[SearchSpace]) -> Section:
    known = set(space.names) if space is not None else set()
    headers = ["feature", "MES (items x dim)", "dim", "items kept", "table floats",
               "projection floats", "total floats", "bytes (float32)", "% of budget"]
    if space is not None:
        headers += ["vocab", "width per row block"]
    rows = []
    for name, fmes in spec.features.items():
        facts = fmes.cost_facts(spec.accounting)
        row = [name, "removed" if fmes.removed else " + ".join(f"{v}x{d}" for v, d in fmes.entries),
               fmes.output_dim, fmes.vocab_size, facts["table_floats"], facts["projection_floats"],
               facts["total_floats"], facts["bytes"],
               f"{100.0 * facts['total_floats'] / spec.budget:.1f}"]
        if space is not None:
            row += ([space.feature(name).vocab_size, _row_block_widths(spec, space, name)]
                    if name in known else ["?", "?"])
        rows.append(row)
    return Section("Chosen embedding blocks per feature", [], headers, rows)


def _summary_section(spec: ModelSpec, task: Optional[str]) -> Section:
    paragraphs = [
        f"Mode **{spec.mode}**" + (f", task **{task}**" if task else "") + ".",
        f"Embedding cost **{spec.cost():,}** floats ({spec.cost() * SERVING_BYTES_PER_FLOAT:,} "
        f"bytes at float32) of a budget of **{spec.budget:,}** "
        f"({100.0 * spec.cost() / spec.budget:.1f}%); {'within' if spec.within_budget() else 'OVER'} "
        f"budget: {spec.table_floats():,} floats in tables and {spec.projection_floats():,} in "
        f"projection matrices, "
        + ("both counted (exact accounting)." if spec.accounting == "exact"
           else "the tables alone counted (the paper's accounting, paper_tables_only)."),
        f"{len(spec.kept_features)} feature(s) kept, {len(spec.removed_features)} removed"
        + (f" ({', '.join(spec.removed_features)})" if spec.removed_features else "") + ".",
    ]
    fallback = spec.metadata.get("budget_fallback")
    if fallback:
        detail = spec.metadata.get("reason") or (
            fallback if isinstance(fallback, str) else json.dumps(fallback, sort_keys=True))
        paragraphs.append(f"**Budget fallback:** the controller's most likely configuration did not "
                          f"fit the budget, so the written MES is the most probable one that does: "
                          f"{detail}.")
    final = spec.metadata.get("final_selection")
    if isinstance(final, dict) and "chosen_objective" in final:
        screened = (f"screened by the supernet on {final['screening_examples']:,} validation "
                    f"examples each, and the best {final.get('finalists')} scored on "
                    if "screening_examples" in final else "scored by the supernet on ")
        paragraphs.append(
            f"**Final selection:** {final.get('candidates')} feasible configurations (the most "
            f"probable one and controller samples) were {screened}"
            f"{final.get('examples_per_candidate', 0):,} validation examples each; the "
            f"{final.get('chosen')} scored {final['chosen_objective']:.4f} (most probable: "
            f"{final.get('most_probable_objective', float('nan')):.4f}).")
    return Section("Summary", paragraphs)


def _category_label(space: Optional[SearchSpace], mode: str, name: str, decision: int, cat: int) -> str:
    if mode == "SE":
        if cat == 0:
            return "removed"
        if space is not None and name in space.names:
            t_all = space.feature(name).num_col_blocks
            return f"(s={(cat - 1) // t_all + 1},t={(cat - 1) % t_all + 1})"
        return f"c{cat}"
    return f"s={cat}"


def _decision_label(space: Optional[SearchSpace], mode: str, name: str, decision: int) -> str:
    if mode == "SE":
        return "(s, t) pick"
    if space is not None and name in space.names:
        return f"dim chunk {decision + 1} ({space.feature(name).dim_chunks[decision]} dims)"
    return f"dim chunk {decision + 1}"


def _probability_section(probabilities: Dict[str, Any], mode: str,
                         space: Optional[SearchSpace]) -> Section:
    rows = []
    for name, decisions in probabilities.items():
        for i, probs in enumerate(decisions):
            probs = [float(p) for p in probs]
            top = sorted(range(len(probs)), key=lambda c: -probs[c])[:_TOP_CATEGORIES]
            rows.append([name, _decision_label(space, mode, name, i), ", ".join(
                f"{_category_label(space, mode, name, i, c)}: {probs[c]:.2f}" for c in top)])
    note = ("SE: one decision per feature; (s, t) = the first s row blocks x the first t dim "
            "chunks; " if mode == "SE" else
            "ME: one decision per dim chunk; s = how many row blocks (most frequent first) use "
            "it, s=0 = unused; ")
    return Section("Controller probabilities at the end of the search",
                   [note + f"the {_TOP_CATEGORIES} most likely choices are shown."],
                   ["feature", "decision", "most likely"], rows)


def _history_section(history: Sequence[Dict[str, Any]]) -> Section:
    keys = ("step", "phase", "mean_reward", "mean_objective", "mean_cost_ratio")
    last_per_phase: Dict[str, Dict[str, Any]] = {}
    for h in history:
        last_per_phase[str(h.get("phase", ""))] = h
    rows = [[_fmt(h.get(k, "")) for k in keys] for h in last_per_phase.values()]
    return Section("Search progress (last log of each phase)",
                   [f"{len(history)} log entries; full history in the SearchResults artifact."],
                   keys, rows)


def _memory_section(plan: Dict[str, int]) -> Section:
    limit = plan.get("limit_bytes")
    checked = f"checked against {limit:,} bytes" if limit else "not checked (no limit)"
    return Section("Memory plan", [f"{memory_plan.describe(plan)}; {checked}. Parameters and "
                                   "optimizer slots, estimated before the search built anything."])


def _changes_section(previous: ModelSpec, spec: ModelSpec) -> Section:
    rows = [c.row() for c in spec_diff.spec_changes(previous, spec)]
    return Section("Changes since the previous blessed MES",
                   [spec_diff.summary(previous, spec) + "."], spec_diff.HEADERS, rows)


def browsable(uri: str) -> str:
    """A URL a browser opens: ``gs://b/p`` -> the Cloud Console's browser of ``b/p``."""
    if uri.startswith("gs://"):
        return "https://console.cloud.google.com/storage/browser/" + uri[len("gs://"):]
    return uri


def _links_section(links: Mapping[str, str]) -> Section:
    return Section("TensorBoard logs",
                   ["Open with `tensorboard --logdir <URI>` (or a Vertex AI TensorBoard)."],
                   links=[(f"{name}: {uri}", browsable(uri)) for name, uri in links.items()])


def sections(spec: ModelSpec, result: Any = None, space: Optional[SearchSpace] = None,
             task: Optional[str] = None, previous: Optional[ModelSpec] = None,
             links: Optional[Mapping[str, str]] = None) -> List[Section]:
    """The report's content; ``result`` is a ``SearchResult`` (or None for a bare MES),
    ``previous`` the MES of the latest blessed model (a changes section), ``links``
    name -> URI of logs (e.g. the TensorBoard logs of the search and the trainers)."""
    out = [_summary_section(spec, task)]
    if previous is not None:
        out.append(_changes_section(previous, spec))
    out.append(_feature_section(spec, space))
    probabilities = getattr(result, "probabilities", None) or spec.metadata.get("probabilities")
    if probabilities:
        out.append(_probability_section(probabilities, spec.mode, space))
    history = getattr(result, "history", None)
    if history:
        out.append(_history_section(history))
    plan = getattr(result, "memory_plan", None)
    if plan:
        out.append(_memory_section(plan))
    if links:
        out.append(_links_section(links))
    return out


def render_markdown(spec: ModelSpec, result: Any = None, space: Optional[SearchSpace] = None,
                    task: Optional[str] = None, **extra: Any) -> str:
    """Markdown of ``sections`` (``extra``: its ``previous`` and ``links``)."""
    lines = ["# Neural Input Search: Multi-size Embedding Spec", ""]
    for sec in sections(spec, result, space, task, **extra):
        lines += [f"## {sec.title}", ""]
        for p in sec.paragraphs:
            lines += [p, ""]
        if sec.headers:
            lines.append("| " + " | ".join(sec.headers) + " |")
            lines.append("|" + "---|" * len(sec.headers))
            lines += ["| " + " | ".join(_fmt(c).replace("|", "\\|") for c in r) + " |" for r in sec.rows]
            lines.append("")
        if sec.links:
            lines += [f"- [{label}]({url})" for label, url in sec.links] + [""]
    return "\n".join(lines)


def _inline_html(text: str) -> str:
    parts = html_lib.escape(text).split("**")
    return "".join(f"<b>{p}</b>" if i % 2 else p for i, p in enumerate(parts))


def render_html_body(spec: ModelSpec, result: Any = None, space: Optional[SearchSpace] = None,
                     task: Optional[str] = None, **extra: Any) -> str:
    """The HTML elements of ``sections`` (no page around them; see ``html_page``)."""
    body = ["<h1>Neural Input Search: Multi-size Embedding Spec</h1>"]
    for sec in sections(spec, result, space, task, **extra):
        body.append(f"<h2>{html_lib.escape(sec.title)}</h2>")
        body += [f"<p>{_inline_html(p)}</p>" for p in sec.paragraphs]
        if sec.headers:
            head = "".join(f"<th>{html_lib.escape(h)}</th>" for h in sec.headers)
            rows = "".join("<tr>" + "".join(f"<td>{html_lib.escape(_fmt(c))}</td>" for c in r) + "</tr>"
                           for r in sec.rows)
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        if sec.links:
            body.append("<ul>" + "".join(
                f"<li><a href=\"{html_lib.escape(url, quote=True)}\">{html_lib.escape(label)}</a></li>"
                for label, url in sec.links) + "</ul>")
    return "".join(body)


def html_page(body: str, title: str = "NIS report") -> str:
    """A self-contained HTML page around ``body`` (the report's style; images fit the page)."""
    style = ("body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 8px;text-align:left}th{background:#eee}"
             "img{max-width:100%}")
    return ("<!DOCTYPE html><html><head><meta charset=\"utf-8\">"
            f"<title>{html_lib.escape(title)}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>")


def render_html(spec: ModelSpec, result: Any = None, space: Optional[SearchSpace] = None,
                task: Optional[str] = None, **extra: Any) -> str:
    """A self-contained HTML page of ``sections`` (``extra``: its ``previous`` and ``links``)."""
    return html_page(render_html_body(spec, result, space, task, **extra))


def ui_metadata(markdown: str, html: Optional[str] = None, log_dir: Optional[str] = None) -> Dict:
    """KFP v1 output viewers (``/mlpipeline-ui-metadata.json``): markdown, web-app, TensorBoard."""
    outputs: List[Dict[str, str]] = [{"type": "markdown", "storage": "inline", "source": markdown}]
    if html:
        outputs.append({"type": "web-app", "storage": "inline", "source": html})
    if log_dir:
        outputs.append({"type": "tensorboard", "source": log_dir})
    return {"version": 1, "outputs": outputs}
