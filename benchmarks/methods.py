"""The four compared methods at one memory budget, plus the shared train/evaluate step.

1. ``grid_se``: the paper's hand tuning (section 4): every feature gets a ``v x d``
   table with one shared width ``d`` from ``GRID_DIMS`` and the most frequent
   items that fit the budget (``baselines.uniform_se_spec``, water-filling), each
   trained from scratch; the best on the validation split is the baseline.
   ``per_feature_se``: the hand tuning continued feature by feature from the grid's
   best (one pass; each feature one width step wider, else narrower, the others fixed,
   vocabularies water-filled; candidates screened by one-epoch runs, a move kept when the
   validation metric improves; the pick is retrained with the full recipe).
2. ``power_law``: DLRM's ``md_solver`` rule (Ginart et al.): ``d_i ~ n_i^-alpha``
   (alpha 0.3) scaled so ``sum n_i d_i`` = budget, widths rounded down and clamped
   to ``[1, MAX_DIM]``; if clamping to 1 still overshoots, the vocabularies are
   cut (most frequent items kept). The projection of every feature to a common
   width is the first dense layer of the tower: it reads the concatenation, so
   an explicit linear projection in front of it would add nothing.
3. ``nis``: one ``run_search`` (mode SE or ME, library defaults), then the emitted
   MES retrained from scratch with ``build_model``.

``train_eval(task, spec, seed)`` trains every fixed-size model with the pipeline
Trainers' recipe (``trainer_module.model.training.fit``: Adam, batch 256, epochs until the
validation metric stops improving, best epoch restored), then reports the test
metrics (AUC; Recall@1/@5/@10 from the full softmax).
"""
from __future__ import annotations

import dataclasses
import time
from typing import Dict, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from benchmarks.data import TaskData, tf_dataset
from trainer_module.spec.baselines import per_feature_se_spec, uniform_se_spec
from trainer_module.model import optimizers
from trainer_module.model import training
from trainer_module.spec.mes import checked
from trainer_module.model.models import build_model
from trainer_module.search.search import run_search
from trainer_module.search.config import SearchConfig
from trainer_module.search.space import SearchSpace
from trainer_module.spec.mes import FeatureMES, ModelSpec

BATCH_SIZE = 256
MAX_EPOCHS = training.DEFAULT_MAX_EPOCHS
# Training steps per compiled call: the same updates as one step per call, 2-3x less time.
STEPS_PER_EXECUTION = 64
GRID_DIMS = (1, 2, 4, 8, 16)
TUNE_DIMS = (1, 2, 4, 8, 16, 32)  # per-feature hand tuning: one step = the next width here
SCREEN_EPOCHS = 1  # per-feature hand tuning screens candidates with one-epoch runs
# Ablation: the search as the paper specifies it, the library defaults everywhere else. Each
# entry is the switch of one element where the defaults differ from the paper (the table in
# docs/architecture.md): four equal dim chunks (section 4), unmasked sampling driven by the cost
# loss (3.3.1-3.3.2), the controller's converged choice as the output (3.3.1; no final selection,
# so no random pool either), unbounded logits and no budget-spent input (the paper's controller
# has neither), 5,000 sampled retrieval negatives (section 4; capped at labels - 1), and the
# paper's width d for every feature, also where the budget rules the widest chunks out (3.3.1),
# each ranking configuration scored on a group of its own (3.3.2), and the controller learning
# rate the paper row was measured with (the paper gives none).
PAPER_SPACE = {"num_dim_chunks": 4}
PAPER_SEARCH = {"budget_masking": False, "final_candidates": 0, "logit_bound": 0.0,
                "budget_input": False, "num_negatives": 5000, "prune_widths": "off",
                "paired_rewards": False, "controller_learning_rate": 5e-3}
MAX_DIM = 32
ALPHA = 0.3


@dataclasses.dataclass
class RunResult:
    """One trained fixed-size model: validation/test metrics, time and throughput."""

    spec: ModelSpec
    val: float
    test: Dict[str, float]
    train_s: float
    steps: int
    examples_per_s: float
    best_epoch: int = 0


class _Timer(tf.keras.callbacks.Callback):
    """Examples/s over training steps only (the first ``skip`` steps of each epoch dropped).

    Keras reports ``batch`` as the epoch's last finished step, also when one call runs
    several steps (``steps_per_execution``).
    """

    def __init__(self, batch_size: int, skip: int = 10):
        super().__init__()
        self.batch_size, self.skip = batch_size, skip
        self.elapsed, self.batches, self._t0, self._last = 0.0, 0, None, None

    def on_epoch_begin(self, epoch, logs=None):
        self._t0, self._last = None, None

    def on_train_batch_end(self, batch, logs=None):
        done = int(batch) + 1
        if self._t0 is None:
            if done >= self.skip:
                self._t0, self._n0 = time.perf_counter(), done
        else:
            self._last, self._nl = time.perf_counter(), done

    def on_epoch_end(self, epoch, logs=None):
        if self._last is not None:
            self.elapsed += self._last - self._t0
            self.batches += self._nl - self._n0

    @property
    def examples_per_s(self) -> float:
        return self.batches * self.batch_size / self.elapsed if self.elapsed else float("nan")


def _recall_at_k(model: tf.keras.Model, arrays, ks=(1, 5, 10)) -> Dict[str, float]:
    feats, labels = arrays
    hits = {k: 0 for k in ks}
    for lo in range(0, len(labels), 2048):
        logits = model({n: tf.constant(v[lo:lo + 2048]) for n, v in feats.items()}).numpy()
        true = logits[np.arange(len(logits)), labels[lo:lo + 2048]]
        rank = (logits > true[:, None]).sum(axis=1)  # 0 = the label is the top item
        for k in ks:
            hits[k] += int((rank < k).sum())
    return {f"recall_at_{k}": hits[k] / len(labels) for k in ks}


def train_eval(data: TaskData, spec: ModelSpec, seed: int, max_epochs: int = MAX_EPOCHS,
               steps_per_epoch: Optional[int] = None,
               patience: int = training.DEFAULT_PATIENCE,
               optimizer: str = optimizers.DEFAULT_OPTIMIZER) -> RunResult:
    """Trains ``spec`` from scratch with the pipeline's recipe; returns val/test metrics and timing.

    ``optimizer`` names an ``optimizers.OPTIMIZERS`` entry (the scale benchmark trains with
    "lazy_adam"; the main benchmark keeps the library default).
    """
    tf.keras.utils.set_random_seed(seed)
    model = build_model(data.dataset, spec, data.num_labels,
                        steps_per_execution=STEPS_PER_EXECUTION, optimizer=optimizer)
    steps = steps_per_epoch or data.size("train") // BATCH_SIZE
    train = tf_dataset(data.splits["train"], BATCH_SIZE, seed)
    val = tf_dataset(data.splits["eval"], 2048, seed, repeat=False, shuffle=False)
    timer = _Timer(BATCH_SIZE)
    start = time.perf_counter()
    fitted = training.fit(model, train, val, data.task, training.TrainRecipe(max_epochs, patience),
                          steps_per_epoch=steps, callbacks=[timer])
    train_s = time.perf_counter() - start
    if data.task == "ranking":
        test = tf_dataset(data.splits["test"], 2048, seed, repeat=False, shuffle=False)
        metrics = {"auc": float(model.evaluate(test, verbose=0, return_dict=True)["auc"])}
    else:
        metrics = _recall_at_k(model, data.splits["test"])
    return RunResult(spec, fitted.best_value, metrics, train_s, fitted.steps,
                     timer.examples_per_s, fitted.best_epoch)


# ----------------------------------------------------------------- 1. uniform SE grid
def grid_specs(vocab_sizes: Dict[str, int], budget: int,
               dims: Sequence[int] = GRID_DIMS) -> List[ModelSpec]:
    """One uniform-width SE spec per grid width (duplicates and empty specs dropped)."""
    out, seen = [], set()
    for d in dims:
        spec = uniform_se_spec(vocab_sizes, budget, dim=d)
        key = str(sorted(spec.to_dict()["features"].items()))
        if spec.cost() > 0 and key not in seen:
            seen.add(key)
            out.append(spec)
    return out


def grid_se(data: TaskData, budget: int, seed: int, dims: Sequence[int] = GRID_DIMS,
            max_epochs: int = MAX_EPOCHS):
    """Trains every grid spec; returns (best run on validation, all runs, grid wall seconds)."""
    start = time.perf_counter()
    runs = [train_eval(data, spec, seed, max_epochs) for spec in grid_specs(data.vocab_sizes, budget, dims)]
    best = max(runs, key=lambda r: r.val)
    return best, runs, time.perf_counter() - start


def per_feature_se(data: TaskData, budget: int, start: ModelSpec, seed: int,
                   screen_epochs: int = SCREEN_EPOCHS, dims: Sequence[int] = TUNE_DIMS):
    """Feature-by-feature hand tuning from the grid's best ``start``, screened by short runs.

    One pass over the features in order: the feature one width step wider (from ``dims``),
    else one narrower, the others fixed and the vocabularies water-filled within
    ``budget``. Every candidate (and ``start``, as the reference) is trained for
    ``screen_epochs`` with ``seed``; a move is kept when its validation metric beats the
    best so far. The caller retrains the pick with the full recipe. Returns (spec,
    screening runs trained, seconds).
    """
    t0 = time.perf_counter()
    widths = {n: int(start.metadata["dim"]) for n in data.vocab_sizes}
    best_spec, best_val = start, train_eval(data, start, seed, screen_epochs).val
    runs = 1
    for name in data.vocab_sizes:
        i = dims.index(widths[name]) if widths[name] in dims else None
        for j in ([] if i is None else [i + 1, i - 1]):
            if not 0 <= j < len(dims):
                continue
            cand = dict(widths, **{name: dims[j]})
            spec = per_feature_se_spec(data.vocab_sizes, budget, cand)
            val = train_eval(data, spec, seed, screen_epochs).val
            runs += 1
            if val > best_val:
                widths, best_spec, best_val = cand, spec, val
                break
    return best_spec, runs, time.perf_counter() - t0


# ----------------------------------------------------------------- 2. power-law mixed dims
def power_law_spec(vocab_sizes: Dict[str, int], budget: int, alpha: float = ALPHA,
                   max_dim: int = MAX_DIM) -> ModelSpec:
    """DLRM ``md_solver``-style mixed widths ``d_i = lambda * n_i^-alpha`` within ``budget``."""
    names = list(vocab_sizes)
    n = np.array([vocab_sizes[k] for k in names], np.float64)
    lam = budget / np.sum(n ** (1 - alpha))
    dims = np.clip(np.floor(lam * n ** -alpha), 1, max_dim).astype(int)
    rows = n.astype(int)
    if int(np.sum(rows * dims)) > budget:  # widths already 1 where it matters: cut vocabularies
        scale = budget / float(np.sum(rows * dims))
        rows = np.maximum(np.floor(rows * scale), 1).astype(int)
        while int(np.sum(rows * dims)) > budget:
            rows[int(np.argmax(rows * dims))] -= 1
    feats = {k: FeatureMES([(int(r), int(d))]) for k, r, d in zip(names, rows, dims)}
    return checked(ModelSpec(budget=int(budget), mode="SE", features=feats,
                             metadata={"baseline": "power_law", "alpha": alpha}))


# ----------------------------------------------------------------- 3./4. NIS
@dataclasses.dataclass
class SearchRun:
    """A search: emitted spec, wall time, supernet throughput and the step count."""

    spec: ModelSpec
    search_s: float
    steps: int
    supernet_examples_per_s: float
    history: list
    tail_s: float = 0.0  # from the last step to run_search returning (final selection, MES)
    controller_every: int = 1
    warmup_steps: int = 0
    stamps: Dict[int, float] = dataclasses.field(default_factory=dict)  # step -> s since start


def search_config(task: str, seed: int, **overrides) -> SearchConfig:
    """The library defaults (what users get), with only the task and the seed set."""
    return SearchConfig(task=task, seed=seed, **overrides)


def nis_search(data: TaskData, budget: int, mode: str, seed: int,
               space_options: Optional[Dict] = None, eval_batch_size: Optional[int] = None,
               **overrides) -> SearchRun:
    """One ``run_search`` with library defaults; supernet examples/s timed over warm-up steps.

    ``space_options`` are search-space options for every feature (ablation);
    the controller's batch defaults to ``SearchConfig.controller_batch_size`` (the component's).
    """
    cfg = search_config(data.task, seed, **overrides)
    space_overrides = ({n: dict(space_options) for n in data.vocab_sizes}
                       if space_options else None)
    space = SearchSpace.from_vocab_sizes(data.vocab_sizes, budget, mode=mode,
                                         overrides=space_overrides)
    eval_bs = eval_batch_size or cfg.controller_batch_size(BATCH_SIZE)  # the component's default
    train = tf_dataset(data.splits["train"], BATCH_SIZE, seed)
    val = tf_dataset(data.splits["eval"], eval_bs, seed + 1)
    stamps: Dict[int, float] = {}
    tf.keras.utils.set_random_seed(seed)
    start = time.perf_counter()
    train_examples = len(data.splits["train"][1])
    cfg = cfg.for_train_examples(train_examples, BATCH_SIZE)  # the component's length rule
    res = run_search(space, data.dataset, train, val, cfg, num_labels=data.num_labels,
                     on_step=lambda s: stamps.__setitem__(s, time.perf_counter()))
    end = time.perf_counter()
    search_s, tail_s = end - start, end - stamps[max(stamps)]
    since_start = {k: v - start for k, v in stamps.items()}
    eps = warmup_examples_per_s({0: start, **stamps}, cfg.warmup_steps)
    return SearchRun(res.spec, search_s, cfg.warmup_steps + cfg.search_steps, eps, res.history,
                     tail_s, cfg.controller_every, cfg.warmup_steps, since_start)


def warmup_examples_per_s(stamps: Dict[int, float], warmup: int) -> float:
    """The warm-up's rate from ``stamps`` (step -> time at which a compiled chunk ended;
    0 -> the start): the median of its chunks' rates after the first chunk (which traces the
    warm-up loop); a one-chunk warm-up from the start. Where the search loop is traced in the
    background (``search_loop``), the chunks beside it run slower on a machine with few cores,
    and on 2 cores those are most of a 3M-row search's warm-up."""
    skip = min(10, max(1, warmup // 4))
    ends = sorted(s for s in stamps if skip <= s <= warmup)
    if warmup not in stamps:
        return float("nan")
    if len(ends) < 2:
        ends = [0, warmup]
    rates = [(b - a) * BATCH_SIZE / (stamps[b] - stamps[a]) for a, b in zip(ends, ends[1:])]
    return float(np.median(rates))


def full_size_se_spec(data: TaskData) -> ModelSpec:
    """The supernet's full size as an SE model: every item at the space's maximum width."""
    space = SearchSpace.from_vocab_sizes(data.vocab_sizes, 1, mode="SE")
    feats = {f.name: FeatureMES([(f.vocab_size, f.dim)]) for f in space.features}
    cost = sum(f.full_cost() for f in space.features)
    return ModelSpec(budget=cost, mode="SE", features=feats)


def same_widths_se_spec(spec: ModelSpec) -> ModelSpec:
    """An SE model with ``spec``'s output width and vocabulary per feature (throughput only).

    Same tower input as the ME model, one table per feature: the throughput difference
    is the cost of the ME lookup itself (more floats than the budget; never a result).
    """
    feats = {n: FeatureMES([(f.vocab_size, f.output_dim)] if not f.removed else [])
             for n, f in spec.features.items()}
    return ModelSpec(budget=sum(f.vocab_size * f.output_dim for f in spec.features.values()),
                     mode="SE", features=feats)
