"""``python -m benchmarks.diagnose``: does the search's supernet rank, does its controller learn?

For each task and budget (a fraction of the full-vocabulary d=32 model's floats) and each
search seed, one NIS search runs with the library defaults (or ``--option`` overrides) and
the harness measures:

- *Supernet ranking fidelity*: a fixed set of within-budget configurations (the grid's
  uniform widths and the power-law rule projected into the search space, random feasible
  ones) plus the search's own finalists is scored by the supernet at the end of the
  warm-up and at the end of the search, on ``--score-batches`` validation batches, and
  each is retrained stand-alone with the benchmark's recipe (validation metric). Reported:
  Kendall's tau and Spearman's rho between supernet and retrained scores, and the top-1
  regret (retrained score of the supernet's favourite vs the best retrained one).
- *Reward noise*: the spread of one reward (one group's objective for a fixed
  configuration) against the spread of the configurations' mean objectives; their ratio
  says how many rewards the controller needs to tell two configurations apart.
- *Controller learning*: per-decision entropy of the policy and the probability of the
  eventually emitted configuration at every log step; the retrained score of the
  controller's most probable configuration, of the final selection's pick, and the best
  and mean of the random configurations.
- *Ceiling*: the full-vocabulary d=32 model, retrained.

Retrained scores are cached per configuration (they do not depend on the search seed).
Writes ``--output`` (JSON) and, with ``--plots``, PNG plots beside it.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf
from scipy import stats

from benchmarks import data as bdata
from benchmarks import methods as m
from trainer_module.search import warm_start as warm_lib
from trainer_module.search.search import NeuralInputSearch
from trainer_module.search.space import SearchSpace, budget as budget_lib

TASKS = ("ml100k_ranking", "synthetic_ranking", "ml100k_retrieval")
FRACTIONS = {"ml100k_ranking": 0.08, "synthetic_ranking": 0.08, "ml100k_retrieval": 0.02}


@dataclasses.dataclass
class Settings:
    """What one diagnosis runs: task sizes, candidates, scoring batches, retraining."""

    random_candidates: int = 16
    score_batches: int = 16
    max_epochs: int = m.MAX_EPOCHS
    synthetic_examples: int = 60_000
    search_overrides: Dict = dataclasses.field(default_factory=dict)


def load(name: str, settings: Settings, work_dir: str) -> bdata.TaskData:
    if name.startswith("ml100k_"):
        frames, dataset = bdata.movielens_frames(name.split("_", 1)[1])
    else:
        frames, dataset = bdata.synthetic_frames(name.split("_", 1)[1], settings.synthetic_examples)
    return bdata.transform(name, frames, dataset, os.path.join(work_dir, name))


def reference_configurations(space: SearchSpace, data: bdata.TaskData, budget: int,
                             n_random: int) -> Dict[str, np.ndarray]:
    """Named within-budget configurations of ``space``: grid widths, power law, random."""
    out: Dict[str, np.ndarray] = {}
    no_score = lambda a: np.zeros(len(a))  # noqa: E731 - repair order only
    for spec in m.grid_specs(data.vocab_sizes, budget):
        d = max((f.entries[0][1] for f in spec.features.values() if f.entries), default=0)
        actions = budget_lib.repair_path(space, warm_lib.project(space, spec), no_score)[-1]
        out[f"grid d={d}"] = actions
    spec = m.power_law_spec(data.vocab_sizes, budget)
    out["power law"] = budget_lib.repair_path(space, warm_lib.project(space, spec), no_score)[-1]
    for i, actions in enumerate(budget_lib.random_feasible(space, n_random, seed=12345)):
        out[f"random {i}"] = np.asarray(actions)
    return out


def _unique(named: Dict[str, np.ndarray]) -> Dict[str, np.ndarray]:
    seen, out = set(), {}
    for name, actions in named.items():
        key = tuple(int(a) for a in actions)
        if key not in seen:
            seen.add(key)
            out[name] = np.asarray(actions)
    return out


def group_rewards(search: NeuralInputSearch, actions: np.ndarray, batches) -> np.ndarray:
    """The per-group rewards' objectives of configuration ``actions`` on ``batches``."""
    steps, out = search.steps, []
    for x, y in batches:
        batch = int(y.shape[0])
        n = steps.num_choices(batch)
        levels = steps.levels(tf.tile(tf.constant(actions[None, :], tf.int32), [n, 1]))
        objective, valid = steps.objective(x, y, steps.per_example(levels, batch), n, steps.counter)
        out.append(objective.numpy()[valid.numpy().astype(bool)])
    return np.concatenate(out)


def entropies(search: NeuralInputSearch) -> List[float]:
    """Per-decision entropy (nats) of the policy along its most probable path."""
    return [float(-np.sum(p * np.log(np.maximum(p, 1e-12))))
            for p in search.controller.probabilities()]


def retrained(data: bdata.TaskData, spec, cache: Dict[str, Dict], max_epochs: int) -> Dict:
    key = json.dumps(spec.to_dict()["features"], sort_keys=True)
    if key not in cache:
        run = m.train_eval(data, spec, seed=0, max_epochs=max_epochs)
        metric = "auc" if data.task == "ranking" else "recall_at_1"
        cache[key] = {"val": float(run.val), "test": float(run.test[metric]),
                      "floats": int(spec.cost())}
    return cache[key]


def diagnose_search(data: bdata.TaskData, fraction: float, mode: str, seed: int,
                    settings: Settings, cache: Dict[str, Dict]) -> Dict:
    """One search of ``data`` at ``fraction`` with its ranking, noise and learning numbers."""
    budget = int(fraction * data.full_floats())
    cfg = m.search_config(data.task, seed, **settings.search_overrides)
    cfg = cfg.for_train_examples(data.size("train"), m.BATCH_SIZE)
    space = SearchSpace.from_vocab_sizes(data.vocab_sizes, budget, mode=mode)
    tf.keras.utils.set_random_seed(seed)
    search = NeuralInputSearch(space, data.dataset, cfg, data.num_labels)
    space = search.space  # as searched (widths the budget rules out pruned)
    named = _unique(reference_configurations(space, data, budget, settings.random_candidates))
    eval_bs = cfg.controller_batch_size(m.BATCH_SIZE)
    batches = list(bdata.tf_dataset(data.splits["eval"], eval_bs, 999, repeat=False,
                                    shuffle=False).take(settings.score_batches))
    train = bdata.tf_dataset(data.splits["train"], m.BATCH_SIZE, seed)
    val = bdata.tf_dataset(data.splits["eval"], eval_bs, seed + 1)
    warm_scores, learning = {}, []

    def on_step(step: int) -> None:
        if step == cfg.warmup_steps:
            warm_scores.update(zip(named, search.steps.scores_many(list(named.values()),
                                                                   batches).mean(axis=1)))
        if step % cfg.log_every == 0 or step == cfg.warmup_steps + cfg.search_steps:
            learning.append({"step": step, "entropy": entropies(search),
                             "weights": [v.numpy() for v in search.controller.trainable_variables]})
    start = time.perf_counter()
    result = search.run(train, val, on_step=on_step)
    search_s = time.perf_counter() - start
    greedy, pick = search.controller.greedy(), warm_lib.project(space, result.spec)
    named = _unique({"most probable": greedy, **named})
    # The emitted MES under its own name (also when it is the most probable or a reference).
    named["final pick"] = pick
    final = dict(zip(named, search.steps.scores_many(list(named.values()), batches).mean(axis=1)))
    noise = {name: float(np.std(group_rewards(search, a, batches[:4]))) for name, a in
             list(named.items())[:6]}
    final_weights = [v.numpy() for v in search.controller.trainable_variables]
    for row in learning:  # the probability of the emitted configuration at each log step
        for v, w in zip(search.controller.trainable_variables, row.pop("weights")):
            v.assign(w)
        row["log_prob_emitted"] = float(search.controller.log_prob(
            tf.constant(pick[None, :], tf.int32)).numpy()[0])
    for v, w in zip(search.controller.trainable_variables, final_weights):
        v.assign(w)
    scores = {name: retrained(data, space.to_spec(a), cache, settings.max_epochs)
              for name, a in named.items()}
    return {"task": data.name, "fraction": fraction, "budget": budget, "mode": mode, "seed": seed,
            "search_s": search_s, "steps": cfg.warmup_steps + cfg.search_steps,
            "configurations": {name: {"warmup_score": float(warm_scores.get(name, np.nan)),
                                      "final_score": float(final[name]), **scores[name]}
                               for name in named},
            "reward_noise_sd": float(np.mean(list(noise.values()))),
            "learning": learning, "history": result.history,
            "emitted": result.spec.to_dict()["features"]}


def summarize(run: Dict) -> Dict:
    """Kendall's tau, Spearman's rho, top-1 regret; the controller's and random picks."""
    confs = run["configurations"]
    names = [n for n in confs if not np.isnan(confs[n]["warmup_score"]) and n != "final pick"]
    val = np.array([confs[n]["val"] for n in names])
    out = {}
    for when in ("warmup_score", "final_score"):
        sup = np.array([confs[n][when] for n in names])
        tau, _ = stats.kendalltau(sup, val)
        rho, _ = stats.spearmanr(sup, val)
        out[when.split("_")[0]] = {"kendall_tau": float(tau), "spearman_rho": float(rho),
                                   "top1_regret": float(val.max() - val[int(np.argmax(sup))])}
    sup_spread = float(np.std([confs[n]["final_score"] for n in names]))
    randoms = [confs[n]["val"] for n in confs if n.startswith("random")]
    grid = [confs[n]["val"] for n in confs if n.startswith("grid")]
    return {**out, "n": len(names), "config_sd": sup_spread,
            "reward_noise_sd": run["reward_noise_sd"],
            "noise_to_spread": run["reward_noise_sd"] / max(sup_spread, 1e-9),
            "most_probable_val": confs["most probable"]["val"],
            "final_pick_val": confs["final pick"]["val"],
            "final_pick_test": confs["final pick"]["test"],
            "best_random_val": max(randoms) if randoms else None,
            "mean_random_val": float(np.mean(randoms)) if randoms else None,
            "best_grid_val": max(grid) if grid else None,
            "final_entropy": float(np.mean(run["learning"][-1]["entropy"])),
            "final_prob_emitted": float(np.exp(run["learning"][-1]["log_prob_emitted"]))}


def plot(runs: List[Dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for run in runs:
        label = f"{run['task']} {run.get('variant', '')} {run['mode']} s{run['seed']}"
        steps = [r["step"] for r in run["learning"]]
        axes[0].plot(steps, [np.mean(r["entropy"]) for r in run["learning"]], label=label)
        axes[1].plot(steps, [r["log_prob_emitted"] for r in run["learning"]], label=label)
        confs = run["configurations"].values()
        axes[2].scatter([c["final_score"] for c in confs], [c["val"] for c in confs], s=12,
                        label=label)
    axes[0].set(title="mean per-decision entropy (nats)", xlabel="step")
    axes[1].set(title="log-probability of the emitted MES", xlabel="step")
    axes[2].set(title="supernet score vs retrained (validation)", xlabel="supernet",
                ylabel="retrained")
    axes[0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def section(raw: Dict) -> List[str]:
    """The "## Diagnostics" section of BENCHMARKS.md: one row per search, then the means."""
    runs = raw["runs"]
    lines = ["## Diagnostics: does the supernet rank, does the controller learn?", "",
             "Generated by `benchmarks/diagnose.py` (`make bench-diagnose`). Per search: "
             "Kendall's tau / Spearman's rho between the supernet's scores of reference "
             "configurations (grid widths, power law, random within-budget ones) and their "
             "retrained validation metric, after the warm-up and at the end; top-1 regret (x100) "
             "of the supernet's favourite; one reward's spread over the configurations'; the "
             "policy's mean entropy per decision (uniform: 1.79); the retrained metric (x100) of "
             "the controller's most probable MES, the emitted one, the best grid width and random "
             "configuration. Retrains: "
             f"{raw.get('max_epochs', '')} epochs at most, seed 0.", "",
             "| task | variant | seed | tau warm-up | tau end | rho end | regret end | "
             "noise / spread | entropy | most probable | emitted | best grid | best random |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for run in runs:
        s = run["summary"]
        lines.append(
            f"| {run['task']} {run['fraction']:.0%} | {run.get('variant', 'defaults')} | "
            f"{run['seed']} | {s['warmup']['kendall_tau']:.2f} | {s['final']['kendall_tau']:.2f} | "
            f"{s['final']['spearman_rho']:.2f} | {100 * s['final']['top1_regret']:.2f} | "
            f"{s['noise_to_spread']:.2f} | {s['final_entropy']:.2f} | "
            f"{100 * s['most_probable_val']:.2f} | {100 * s['final_pick_val']:.2f} | "
            f"{100 * s['best_grid_val']:.2f} | {100 * s['best_random_val']:.2f} |")
    lines += ["", "Means over search seeds:", "",
              "| task | variant | searches | tau end | most probable | emitted (min-max) | "
              "best grid |", "|---|---|---|---|---|---|---|"]
    groups: Dict[tuple, List[Dict]] = {}
    for run in runs:
        groups.setdefault((run["task"], run.get("variant", "defaults")), []).append(run["summary"])
    for (task, variant), rows in groups.items():
        picks = [100 * r["final_pick_val"] for r in rows]
        lines.append(
            f"| {task} | {variant} | {len(rows)} | "
            f"{np.mean([r['final']['kendall_tau'] for r in rows]):.2f} | "
            f"{np.mean([100 * r['most_probable_val'] for r in rows]):.2f} | "
            f"{np.mean(picks):.2f} ({min(picks):.2f}-{max(picks):.2f}) | "
            f"{100 * rows[0]['best_grid_val']:.2f} |")
    if raw.get("plot"):
        lines += ["", f"![diagnostics]({raw['plot']})"]
    return lines


def merge(paths: Sequence[str], output: str, plots: bool = True) -> Dict:
    """One records file from several diagnosis runs (their ``runs`` concatenated)."""
    raw = {"runs": [], "variants": {}}
    for path in paths:
        with open(path, encoding="utf-8") as f:
            part = json.load(f)
        raw["runs"] += part["runs"]
        raw["variants"].update(part.get("variants", {}))
        raw["max_epochs"] = part.get("max_epochs", raw.get("max_epochs"))
    for run in raw["runs"]:
        run.pop("history", None)  # the search's own rows: in its checkpoints, not needed here
    if plots:
        png = os.path.splitext(output)[0] + ".png"
        plot(raw["runs"], png)
        raw["plot"] = os.path.relpath(png, os.getcwd())
    with open(output, "w", encoding="utf-8") as f:
        json.dump(raw, f, indent=1, default=float)
    return raw


def main(argv: Optional[Sequence[str]] = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--tasks", nargs="+", default=list(TASKS))
    p.add_argument("--modes", nargs="+", default=["ME"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--fraction", type=float, default=None, help="default: per task (FRACTIONS)")
    p.add_argument("--random-candidates", type=int, default=Settings.random_candidates)
    p.add_argument("--score-batches", type=int, default=Settings.score_batches)
    p.add_argument("--max-epochs", type=int, default=Settings.max_epochs)
    p.add_argument("--synthetic-examples", type=int, default=Settings.synthetic_examples)
    p.add_argument("--option", action="append", default=[], help="SearchConfig NAME=JSON_VALUE")
    p.add_argument("--variant", action="append", default=[],
                   help='NAME=JSON_OBJECT of SearchConfig overrides, compared on the same '
                        'configurations (default: the library defaults alone)')
    p.add_argument("--output", default="benchmarks/results/diagnostics.json")
    p.add_argument("--plots", action="store_true")
    p.add_argument("--merge", nargs="+", default=None,
                   help="no runs: merge these records files into --output (and its plot)")
    args = p.parse_args(argv)
    if args.merge:
        merge(args.merge, args.output)
        return
    overrides = {k: json.loads(v) for k, v in (o.split("=", 1) for o in args.option)}
    settings = Settings(args.random_candidates, args.score_batches, args.max_epochs,
                        args.synthetic_examples, overrides)
    variants = dict(v.split("=", 1) for v in args.variant) or {"defaults": "{}"}
    runs = []
    with tempfile.TemporaryDirectory() as work:
        for task in args.tasks:
            data, cache = load(task, settings, work), {}
            fraction = args.fraction or FRACTIONS.get(task, 0.08)
            for name, variant in variants.items():
                options = dataclasses.replace(
                    settings, search_overrides={**overrides, **json.loads(variant)})
                for mode in args.modes:
                    for seed in args.seeds:
                        run = diagnose_search(data, fraction, mode, seed, options, cache)
                        run["variant"], run["summary"] = name, summarize(run)
                        runs.append(run)
                        print(json.dumps({k: run[k] for k in ("task", "variant", "mode", "seed")}
                                         | run["summary"]), flush=True)
            ceiling = retrained(data, m.full_size_se_spec(data), cache, settings.max_epochs)
            for run in runs:
                run.setdefault("ceiling", ceiling)
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    with open(args.output, "w", encoding="utf-8") as f:
        json.dump({"options": overrides, "variants": variants, "runs": runs,
                   "max_epochs": args.max_epochs}, f, indent=1, default=float)
    merge([args.output], args.output, plots=args.plots)


if __name__ == "__main__":
    main()
