"""The "## Scale" section of BENCHMARKS.md from one ``benchmarks.scale`` run's JSON.

Pure formatting (no TensorFlow): ``section(raw)`` returns the markdown lines of the data and
preprocessing rates, the method table at each budget with the search + retrain vs grid wall
time, memory (measured peaks next to the memory plan), throughput, the step-time ratio and
the parameter-server numbers (or why they were not measured).
"""
from __future__ import annotations

from typing import Dict, List

from benchmarks import report

GRID, POWER_LAW = "Uniform SE grid", "Power-law MD"
METHODS = (GRID, POWER_LAW, "NIS-SE", "NIS-ME")
WALL_TARGET = 0.5    # NIS search + retrain within half the grid's wall time (issue 17)
STEP_TARGET = 1.5    # supernet step at 1M rows within 1.5x the step at 10k rows
OVERHEAD_TARGET = 3.0  # search wall within 3x training the final model on as many examples
BATCH = 256


def _gib(n) -> str:
    """Bytes in GiB, or MiB below 1 GiB (a quick run's tables are a few MiB)."""
    if n is None:
        return "n/a"
    return f"{n / 2 ** 30:.2f} GiB" if abs(n) >= 2 ** 30 else f"{n / 2 ** 20:.1f} MiB"


def _rate(n) -> str:
    return f"{n:,.0f}" if n == n and n is not None else "n/a"


def _data_lines(d: Dict) -> List[str]:
    gen, eg, an = d["generate"], d.get("example_gen", {}), d["analyze"]
    train = d["splits"]["train"]
    pandas_rate = train / d["pandas_s"] if d.get("pandas_s") else float("nan")
    rows = [("Generation (`synthetic_stream.write`, 1 process)", gen["rows"], gen["wall_s"]),
            (f"ExampleGen (CsvExampleGen executor on one shard, DirectRunner "
             f"{eg.get('workers', '?')} processes)", eg.get("rows"), eg.get("wall_s")),
            (f"Transform analysis (`CsvTFXIO` -> `tft_beam.AnalyzeDataset` + `WriteTransformFn`"
             f", train split, DirectRunner {an['workers']} processes)", an["rows"], an["wall_s"]),
            ("pandas `value_counts`, same columns (1 process, frames already in memory)",
             train, d.get("pandas_s")),
            ("Transform graph applied to every split (batched tensors)",
             sum(d["splits"].values()), d.get("apply_s"))]
    out = ["| stage | rows | wall s | rows/s |", "|---|---|---|---|"]
    for name, n, secs in rows:
        if n is None or not secs:
            out.append(f"| {name} | n/a | n/a | n/a |")
        else:
            out.append(f"| {name} | {n:,} | {secs:.1f} | {_rate(n / secs)} |")
    ratio = an["rows_per_s"] and pandas_rate / an["rows_per_s"]
    out += ["", f"Vocabulary sizes (train split): {d['vocab_sizes']}; examples "
            f"train/eval/test {d['splits']}; full d=32 model {d['full_floats']:,} floats. "
            f"pandas counts {_rate(ratio)}x as many rows per second as the Beam analysis "
            f"(which also starts its worker processes and writes the vocabulary files)."]
    return out


def _method_table(budgets: List[Dict]) -> List[str]:
    head = ["budget (floats)", "% of full", "method", "test AUC ×100 (mean ± sd)",
            "rel. diff vs grid", "wall s", "note"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for b in budgets:
        base = [r["auc"] for r in b["methods"][GRID]["runs"]] if GRID in b["methods"] else None
        for name in METHODS:
            rec = b["methods"].get(name)
            if rec is None:
                continue
            aucs = [r["auc"] for r in rec["runs"]]
            note = _note(name, rec, b)
            rel = report.rel_diff(aucs, base) if base and name != GRID else "—"
            out.append(f"| {b['budget']:,} | {b['fraction'] * 100:g}% | {name} | "
                       f"{report.fmt_ms(aucs)} (n={len(aucs)}) | {rel} | {rec['wall_s']:.0f} | "
                       f"{note} |")
    return out


def _note(name: str, rec: Dict, b: Dict) -> str:
    if name == GRID:
        return (f"{len(rec.get('points', []))} widths (first seed), best d={rec.get('dim')}; "
                "wall = the whole grid")
    if name == POWER_LAW:
        return "1 training"
    s = rec["search"]
    ratio = rec["wall_s"] / b["grid_s"] if b.get("grid_s") else float("nan")
    met = "met" if ratio <= WALL_TARGET else "missed"
    return (f"search {s['search_s']:.0f} s ({s['steps']} steps) + retrain "
            f"{rec['wall_s'] - s['search_s']:.0f} s = {ratio:.2f}x the grid (target <= "
            f"{WALL_TARGET:g}: {met})")


def _memory_lines(budgets: List[Dict]) -> List[str]:
    out = ["| process | peak RSS | RSS after loading the data | peak - data | memory plan |",
           "|---|---|---|---|---|"]
    for b in budgets:
        for mode in ("SE", "ME"):
            s = b["methods"].get(f"NIS-{mode}", {}).get("search")
            if not s:
                continue
            plan = s["memory_plan"]
            out.append(f"| NIS-{mode} search, {b['fraction'] * 100:g}% | "
                       f"{_gib(s['peak_rss_bytes'])} | {_gib(s['rss_after_data_bytes'])} | "
                       f"{_gib(s['peak_rss_bytes'] - s['rss_after_data_bytes'])} | supernet + "
                       f"slots {_gib(plan['supernet_bytes'] + plan['supernet_slot_bytes'])} |")
        t = b.get("trainer_memory")
        if t:
            out.append(f"| NIS-ME retrain (trainer), {b['fraction'] * 100:g}% | "
                       f"{_gib(t['peak_rss_bytes'])} | {_gib(t['rss_after_data_bytes'])} | "
                       f"{_gib(t['peak_rss_bytes'] - t['rss_after_data_bytes'])} | final model "
                       f"with slots <= {_gib(t['memory_plan_final_model_bytes'])} (the emitted MES's "
                       f"floats with slots: {_gib(t['model_with_slots_bytes'])}) |")
    return out


def _throughput_lines(raw: Dict) -> List[str]:
    out = ["| budget | supernet (NIS-SE / NIS-ME search warm-up) | final NIS-ME | final NIS-SE "
           "| grid best SE | power-law |", "|---|---|---|---|---|---|"]
    for b in raw["budgets"]:
        ms = b["methods"]
        eps = {k: _rate(sum(r["examples_per_s"] for r in v["runs"]) / len(v["runs"]))
               for k, v in ms.items()}
        sup = " / ".join(_rate(ms[k]["search"]["supernet_examples_per_s"])
                         for k in ("NIS-SE", "NIS-ME") if k in ms)
        out.append(f"| {b['fraction'] * 100:g}% | {sup} | {eps.get('NIS-ME', 'n/a')} | "
                   f"{eps.get('NIS-SE', 'n/a')} | {eps.get(GRID, 'n/a')} | "
                   f"{eps.get(POWER_LAW, 'n/a')} |")
    st = raw.get("step_ratio", {})
    out += ["", f"Supernet step (one forward, backward and update on one fixed batch of 256; "
            f"3 features of width 32) at {st.get('small', 0):,} vs {st.get('large', 0):,} rows "
            "per feature:", "", "| optimizer | small ms/step | large ms/step | ratio |",
            "|---|---|---|---|"]
    for name in ("lazy_adam", "adam"):
        t = st.get(name)
        if t:
            flag = (f" (target <= {STEP_TARGET:g}: "
                    f"{'met' if t['ratio'] <= STEP_TARGET else 'missed'})"
                    if name == "lazy_adam" else "")
            out.append(f"| {name} | {t['small_ms']:.1f} | {t['large_ms']:.1f} | "
                       f"{t['ratio']:.2f}{flag} |")
    return out


def _nis_searches(raw: Dict):
    """``(budget record, mode, NIS record, mean final-model examples/s)`` of each NIS row."""
    for b in raw["budgets"]:
        for mode in ("SE", "ME"):
            rec = b["methods"].get(f"NIS-{mode}")
            if rec:
                yield b, mode, rec, sum(r["examples_per_s"] for r in rec["runs"]) / len(rec["runs"])


def _overhead_lines(raw: Dict) -> List[str]:
    """Search wall time vs training the final model on as many examples: measured (one
    validated epoch of that many steps, wall: the target), at its steady rate (no start-up),
    and against one whole training run of it (wall, as a user sees it)."""
    out = ["| budget | mode | search s | steps (controller every k) | examples seen | final "
           "model on as many examples, wall s | overhead | final model examples/s | at that "
           "rate s | overhead at the rate | final selection s | one training run s | search / "
           "training run |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for b, mode, rec, eps in _nis_searches(raw):
        s = rec["search"]
        run_s = sum(r["train_s"] for r in rec["runs"]) / len(rec["runs"])
        seen = s["steps"] * BATCH
        same = seen / eps
        wall = s.get("same_examples_train_s", float("nan"))
        ratio = s["search_s"] / wall
        met = "met" if ratio <= OVERHEAD_TARGET else "missed"
        out.append(f"| {b['fraction'] * 100:g}% | {mode} | {s['search_s']:.0f} | "
                   f"{s['steps']:,} ({s.get('controller_every', '?')}) | {seen:,} | "
                   f"{wall:.1f} | {ratio:.1f}x (target <= {OVERHEAD_TARGET:g}: {met}) | "
                   f"{_rate(eps)} | {same:.1f} | {s['search_s'] / same:.1f}x | "
                   f"{s.get('tail_s', float('nan')):.0f} | "
                   f"{run_s:.0f} | {s['search_s'] / run_s:.2f}x |")
    return out


def _phase_lines(raw: Dict) -> List[str]:
    """Where each search's wall time went (``scale_jobs.phases``), next to the final model's
    training step: what the search overhead above is made of. The last column prices every
    warm-up and search step at its phase's steady rate against the final model's: the ratio
    the overhead tends to as the data grows and the fixed costs (start-up, tracing, the final
    selection; the final model's own start-up) amortize."""
    out = ["| budget | mode | start-up s (steps) | warm-up s (steps) | warm-up ms/step | "
           "first search chunk s (steps; traces the search loop) | rest of search s (steps) | "
           "ms per cycle of k steps | final selection s | final model ms per k steps | "
           "warm-up step / final model step | search steps / final model steps, steady rates |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for b, mode, rec, eps in _nis_searches(raw):
        p = rec["search"].get("phases")
        if not p:
            continue
        k = rec["search"].get("controller_every", 1)
        final_ms, warm_ms = BATCH / eps * 1e3, p["warmup_s"] / p["warmup_steps"] * 1e3
        search_ms = p["search_s"] / p["search_steps"] * 1e3
        warmup, search = (p["startup_steps"] + p["warmup_steps"],
                          p["search_first_steps"] + p["search_steps"])
        steady = (warm_ms * warmup + search_ms * search) / (final_ms * (warmup + search))
        out.append(f"| {b['fraction'] * 100:g}% | {mode} | {p['startup_s']:.1f} "
                   f"({p['startup_steps']}) | {p['warmup_s']:.1f} ({p['warmup_steps']:,}) | "
                   f"{warm_ms:.2f} | {p['search_first_s']:.1f} ({p['search_first_steps']}) | "
                   f"{p['search_s']:.1f} ({p['search_steps']:,}) | "
                   f"{search_ms * k:.1f} | {p['selection_s']:.1f} | {final_ms * k:.1f} | "
                   f"{warm_ms / final_ms:.1f}x | {steady:.1f}x |")
    return out


def _task(device: str) -> str:
    """``task:1`` of ``/job:ps/replica:0/task:1/device:CPU:0``."""
    return next((p for p in device.split("/") if p.startswith("task:")), device)


def _ps_lines(ps: Dict) -> List[str]:
    if not ps.get("measured"):
        return [f"Not measured: {ps.get('reason', 'no result recorded')}."]
    one, cl, rt = ps["single"], ps["parameter_server"], ps["retrain"]
    split = "; ".join(f"`{k}` on {', '.join(_task(d) for d in v)}"
                      for k, v in ps["split_variables"].items())
    return [f"Slice: {ps['rows']:,} train rows with the full vocabularies, NIS-ME at budget "
            f"{ps['budget']:,}, {ps['warmup_steps']} warm-up + {ps['search_steps']} search steps "
            f"(controller every {ps['controller_every']}), lazy Adam. Cluster: chief + 2 workers "
            "+ 2 parameter servers in one process (`trainer_module.distribute.in_process_cluster`), sharing the "
            "same cores.", "",
            "| run | search s | warm-up examples/s | search examples/s | MES cost | within budget |",
            "|---|---|---|---|---|---|",
            f"| one process | {one['search_s']:.0f} | {_rate(one['warmup_examples_per_s'])} | "
            f"{_rate(one['search_examples_per_s'])} | {one['cost']:,} | {one['within_budget']} |",
            f"| parameter-server cluster | {cl['search_s']:.0f} | "
            f"{_rate(cl['warmup_examples_per_s'])} | {_rate(cl['search_examples_per_s'])} | "
            f"{cl['cost']:,} | {cl['within_budget']} |", "",
            f"Retrain of the cluster's MES on the cluster: {rt['steps']} steps in {rt['s']:.0f} s "
            f"({_rate(rt['examples_per_s'])} examples/s). {ps['num_split_variables']} supernet "
            f"variables split over the parameter servers, e.g. {split}. What this shows: the "
            "runtime splits the million-row tables over both servers, runs warm-up, controller "
            "and final selection, and keeps the budget; what it cannot show on one machine: a "
            "speed-up (every task shares the same cores and talks gRPC over localhost), so the "
            "cluster/one-process ratio is the coordination cost per step, an upper bound."]


def section(raw: Dict) -> List[str]:
    """Markdown lines of the Scale section (a ``## Scale`` heading and its subsections)."""
    s, quick = raw["settings"], raw.get("quick", False)
    m = raw["machine"]
    ps = raw.get("parameter_server", {})
    lines = ["## Scale" + (" (QUICK smoke run, not representative)" if quick else ""), "",
             f"Generated by `benchmarks/scale/cli.py` (`make bench-scale`"
             f"{', --quick' if quick else ''}) in one run of {raw['total_s'] / 60:.1f} min on "
             f"{m['nproc']} cores ({m['cpu']}, load average at start "
             f"{m['load_average_at_start']}); raw results in `benchmarks/results/scale.json` "
             "(a quick run's: `<output stem>.scale.json`).",
             f"Data: `benchmarks.scale.synthetic_stream`, {s['rows']:,} rows, sizes {s['sizes']}, "
             "20 shards: 18 train, 1 eval, 1 test. Every model and supernet trains with "
             f"`optimizer=\"{raw.get('optimizer', 'lazy_adam')}\"`; a final model runs "
             f"{s['passes']:g} pass(es) over the train split in {s['epochs']} validated epochs "
             "(best epoch kept); searches use the library's step counts"
             + (f" overridden by {s['search_overrides']}" if s.get("search_overrides") else "")
             + f"; seeds {list(s['seeds'])}.", "",
             "### Data and preprocessing", ""]
    lines += _data_lines(raw["data"])
    lines += ["", "### Methods at tight budgets", "",
              "Grid: every width with the first seed, the best on validation retrained with "
              "the others; power law and NIS retrains: every seed; NIS: one search (first seed) "
              "per mode and budget. NIS wall = search + one retrain.", ""]
    lines += _method_table(raw["budgets"])
    lines += ["", "### Memory", "", "Peak resident memory (`VmHWM`) of each job in its own "
              "process, next to `trainer_module.search.space.memory_plan`'s estimate (parameters + optimizer "
              "slots; activations, TensorFlow and the data not counted).", ""]
    lines += _memory_lines(raw["budgets"])
    lines += ["", "### Throughput (examples/s of training steps)", ""]
    lines += _throughput_lines(raw)
    lines += ["", "### Search cost vs training the final model", "",
              "Search wall time (warm-up, search, final selection, with its tracing) against the "
              "final NIS model of the same mode: trained on as many examples as the search's main "
              "model saw (the target's measure: one training run of that many steps and one "
              "validation pass, wall, with its own start-up: input iterator, tracing), the same "
              "examples at the final model's steady rate of training steps (no start-up, the "
              "stricter figure), and one whole training run of it as the trainer runs it (wall: "
              "`passes` over the train split, a validation pass per epoch; the mean over the "
              "retrain seeds).", ""]
    lines += _overhead_lines(raw)
    phases = _phase_lines(raw)
    if len(phases) > 2:
        lines += ["", "Where the search's time goes (from the end of each compiled chunk of steps; "
                  "a cycle is one controller step and the k - 1 supernet steps that use its "
                  "choices; the final model's step at its steady rate):", ""] + phases
    lines += ["", "### Parameter-server cluster", ""]
    lines += _ps_lines(ps)
    return lines
