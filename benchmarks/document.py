"""Assembles BENCHMARKS.md: machine, protocol, results (one table per task, targets,
performance), the Scale section (when ``make bench-scale`` has left its JSON next to the
output), each section closed by its short hand-written "What this shows" paragraph.

Everything but those paragraphs is generated from the measured records. The paragraphs live in
``benchmarks/notes.md``, one per section heading (``notes`` / ``with_notes``), so re-rendering
keeps them; why the library's defaults are what they are is in ``docs/decisions.md``, which the
report links. A quick run gets no paragraphs (its numbers are not the ones they describe).
"""
from __future__ import annotations

import json
import os
import re
from typing import Dict, List, Optional

from benchmarks import methods as m
from benchmarks import report
from benchmarks.scale import report as scale_report

NOTES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "notes.md")
DECISIONS = "docs/decisions.md"  # relative to the repository root, where BENCHMARKS.md lives


def notes(path: str = NOTES) -> Dict[str, str]:
    """The hand-written paragraphs of ``path``: {section heading: text}, in file order.

    Each ``## <heading>`` line starts a paragraph for the report's section of that heading (at
    any level); HTML comments are ignored."""
    if not os.path.exists(path):
        return {}
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"<!--.*?-->", "", f.read(), flags=re.S)
    out: Dict[str, str] = {}
    heading = None
    for line in text.splitlines():
        if line.startswith("## "):
            heading = line[3:].strip()
            out[heading] = ""
        elif heading is not None:
            out[heading] += line + "\n"
    return {k: " ".join(v.split()) for k, v in out.items() if v.strip()}


def with_notes(lines: List[str], paragraphs: Dict[str, str]) -> List[str]:
    """``lines`` with each section's paragraph (``paragraphs[heading]``) added at the end of the
    section's own text, before the next heading of any level; unmatched headings are skipped."""
    out: List[str] = []
    pending = None
    for line in lines:
        if line.startswith("#"):
            if pending:
                out += _paragraph(pending, out)
            pending = paragraphs.get(line.lstrip("#").strip())
        out.append(line)
    if pending:
        out += _paragraph(pending, out)
    return out


def _paragraph(text: str, before: List[str]) -> List[str]:
    lead = [] if not before or before[-1] == "" else [""]
    return lead + [f"**What this shows.** {text}", ""]


def _protocol(s, total_s: float, quick: bool) -> List[str]:
    out = [
        "## How it was run", "",
        f"- Command: `{'make bench-quick' if quick else 'make bench'}` "
        f"(`python -m benchmarks.run{' --quick' if quick else ''}"
        f"{f' --jobs {s.jobs}' if getattr(s, 'jobs', 1) > 1 else ''} --output ...`); "
        f"total wall time **{total_s / 60:.1f} min**"
        + (f", the tasks in {s.jobs} parallel processes (`--jobs {s.jobs}`: every wall time "
           "and rate was measured while the other tasks ran)" if getattr(s, "jobs", 1) > 1
           else "") + ".",
        f"- Seeds {list(s.seeds)}; budgets = {[f'{f:g}' for f in s.fractions]} x the embedding "
        "floats of the full-vocabulary d=32 model of each task.",
        "- Data: ML-100K (RecBole wheel via `pipelines.data.fetch_movielens`, split by "
        "`pipelines.data.movielens`: ranking = random 70/20/10, label rating >= 4; retrieval = "
        "per-user time split, label = next item, 10-item history) and the synthetic ranking "
        f"generator (`pipelines.data.synthetic`, {s.synthetic_examples:,} rows, random 70/15/15). "
        "Ids come from the project's real `preprocessing_fn` run by `tft_beam` (DirectRunner) on "
        "the train split and applied to every split.",
        f"- Every fixed-size model: `trainer_module.model.models.build_model` (tower 256-128-64, Adam "
        f"1e-3), batch {m.BATCH_SIZE}, at most {s.max_epochs} epochs, stopped when the "
        f"validation metric has not improved for {s.patience} epoch(s), the best epoch's "
        "weights restored (since `trainer_module.model.training.fit`, the pipeline Trainers' recipe); "
        "then the test split.",
        f"- **Uniform SE grid** (the paper's hand tuning): one shared width d in "
        f"{list(s.grid_dims)}, every feature keeps its most frequent items that fit the budget "
        "(`baselines.uniform_se_spec`, water-filling); "
        + ("every point trained per seed, the best mean validation metric is the baseline. "
           "Its wall time is the whole grid for one seed."
           if getattr(s, "grid_select", "all_seeds") == "all_seeds" else
           f"every point trained with seed {s.seeds[0]}, the best validation metric is the "
           "baseline and is retrained with the other seeds (`--grid-select first_seed`). Its "
           "wall time is the whole grid for one seed."),
        f"- **{report.PER_FEATURE}** (`methods.per_feature_se`): what a person does next, "
        "from the grid's best, one pass over the features: one width step wider (else narrower) "
        f"in {list(m.TUNE_DIMS)}, the others fixed, vocabularies water-filled "
        "(`baselines.per_feature_se_spec`); candidates (and the grid's best, as reference) "
        f"are screened by {s.screen_epochs}-epoch runs of seed {s.seeds[0]}, "
        "a move is kept when the validation metric improves; the pick is retrained per seed "
        "with the full recipe. Wall time = the grid's + the screening runs' + one retrain. "
        "A stronger reference than the grid; the "
        "relative differences stay against the grid.",
        f"- **Power-law MD**: `d_i = lambda * n_i^-{m.ALPHA}` (DLRM md_solver rule), lambda "
        "so that sum n_i d_i = budget, floored and clamped to [1, 32]; vocabularies cut only when "
        "width 1 still overshoots. The projection to a common width is the tower's first dense "
        "layer (it reads the concatenation; an explicit linear projection before it adds nothing).",
        "- **NIS-SE / NIS-ME**: one `run_search` per (task, budget) with seed "
        f"{s.seeds[0]} and the library's default `SearchConfig`"
        + (f" overridden by {s.search_overrides} (quick mode only)" if s.search_overrides else "")
        + "; the emitted MES is retrained per seed with the recipe above. Wall time = search + "
        "one retrain."
        + (f" **{report.RANDOM_ORDER}**: the same NIS-ME search with "
           "`SearchConfig(decision_order=\"random\")` (every sampled configuration decides the "
           "features in its own random order; opt-in)." if s.random_order_row else ""),
        "- Relative difference: (mean - baseline mean) / baseline mean, as in the paper's tables.",
        "", "Reproduce: `make bench` (full) or `make bench-quick` (smoke run, a few minutes; "
        "numbers not representative). Raw records: `benchmarks/results/bench.json`.", ""]
    return out


def scale_section(output: Optional[str]) -> List[str]:
    """The "## Scale" section from ``make bench-scale``'s records (``report.results_json``), if any."""
    if not output:
        return []
    path = report.results_json(output, "scale")
    if not os.path.exists(path):
        return []
    with open(path, encoding="utf-8") as f:
        return scale_report.section(json.load(f)) + [""]


def diagnostics_section(output: Optional[str]) -> List[str]:
    """The "## Diagnostics" section from ``make bench-diagnose``'s records, if any."""
    if not output:
        return []
    path = report.results_json(output, "diagnostics")
    if not os.path.exists(path):
        return []
    from benchmarks import diagnose  # pylint: disable=import-outside-toplevel
    with open(path, encoding="utf-8") as f:
        return diagnose.section(json.load(f)) + [""]


def baselines_section(output: Optional[str]) -> List[str]:
    """The hand-sized baseline's section from ``make bench-baselines``'s records, if any."""
    if not output:
        return []
    path = report.results_json(output, "baselines")
    if not os.path.exists(path):
        return []
    from benchmarks import baselines  # pylint: disable=import-outside-toplevel
    with open(path, encoding="utf-8") as f:
        return baselines.section(json.load(f))


def markdown(records: List[Dict], perfs: Dict, tasks: Dict, machine: Dict, s, total_s: float,
             plot_path: str, args, runs: Optional[List[str]] = None) -> str:
    quick = bool(getattr(s, "quick", False))
    origin = ("every number below was measured in that one run." if not runs else
              "the numbers below come from these runs (`--tasks` re-runs merged with `--merge`): "
              + "; ".join(runs) + ". The machine line is the first run's.")
    lines = ["# NIS benchmark" + (" (QUICK smoke run, not representative)" if quick else ""), "",
             "Generated by `benchmarks/run.py`; " + origin,
             "", "## Machine", "",
             f"- {machine['nproc']} cores, CPU only (no accelerator): {machine['cpu']}; "
             f"RAM {machine['ram']}; load average at start {machine['load_average_at_start']} "
             "(a virtual machine: its host's other load is not visible and runs land on "
             "different CPU models, so compare wall times within one run).",
             f"- Python {machine['python']}, TensorFlow {machine['tensorflow']}.", ""]
    lines += _protocol(s, total_s, quick)
    lines += ["## Results", "", f"![metric vs memory]({plot_path})", ""]
    for name, info in tasks.items():
        recs = [r for r in records if r["task"] == name]
        lines += [f"### {name}", "",
                  f"Vocabulary sizes (from the transform output): {info['vocab_sizes']}"
                  + (f"; {info['num_labels']} labels" if info.get("num_labels") else "")
                  + f". Examples train/eval/test: {info['sizes']}. Full d=32 model: "
                  f"{info['full_floats']:,} floats. Task wall time {info['wall_s'] / 60:.1f} min.",
                  "", report.task_table(recs), "", "Targets:", ""]
        lines += report.targets(recs, perfs.get(name, {})) + [""]
    lines += ["## Throughput, search overhead and Transform time", "",
              f"Examples/s of training steps (batch {m.BATCH_SIZE}, first 10 batches of each epoch "
              "excluded), on this CPU machine, at the middle budget. Supernet = main-model steps "
              "of the search's warm-up (uniform random choices). Search overhead = search wall "
              "time / time to train the final ME model for the same number of steps at its "
              "measured rate. Transform = `tft_beam.AnalyzeDataset` + `WriteTransformFn` of the "
              "train split (DirectRunner, in-memory instance dicts) vs pandas `value_counts` of "
              "the same columns (multi-valued ones split), the single-process lower bound.", "",
              report.perf_table(perfs, tasks), ""]
    lines += scale_section(getattr(args, "output", None))
    lines += diagnostics_section(getattr(args, "output", None))
    lines += baselines_section(getattr(args, "output", None))
    if not quick:
        lines = with_notes(lines, notes())
        lines += ["## Why the defaults are what they are", "",
                  f"Each default of the library that differs from the paper or from the obvious "
                  f"choice, with the measurement that decided it: [{DECISIONS}]({DECISIONS}).", ""]
    return "\n".join(lines) + "\n"
