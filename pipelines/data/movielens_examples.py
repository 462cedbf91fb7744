"""Building blocks for ``movielens.py``: tokens, join keys, retrieval histories, splits, writers.

Kept apart from the role resolution so each file stays small. Nothing here knows
about file formats: inputs are the flat interaction frame built by
``movielens.interactions`` (helper columns ``_user``, ``_item``, ``_time``,
``_order``) and a ``DatasetConfig``.
"""
from __future__ import annotations

import math
import os
import re
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np
import pandas as pd
from google.protobuf import text_format
from tensorflow_metadata.proto.v0 import schema_pb2

from trainer_module.data.features import DatasetConfig, FeatureConfig

_YEAR_RE = re.compile(r"(\d{4})")


# ---------------------------------------------------------------- categorical tokens
def _is_missing(value) -> bool:
    """True for None / NaN."""
    return value is None or (isinstance(value, float) and math.isnan(value))


def _numeric(text: str) -> bool:
    """True when CsvExampleGen could read ``text`` as a number."""
    try:
        float(text)
        return True
    except ValueError:
        return False


def token(value, tag: str) -> Optional[str]:
    """Categorical string of one raw value (``None`` when missing).

    Integral floats lose their ``.0`` (age 24.0 -> "24"); values that look numeric
    get ``tag`` in front so CSV type inference always sees strings; ``|`` (the
    multi-value separator) inside a value becomes ``/``.
    """
    if _is_missing(value):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = " ".join(str(value).split()).replace("|", "/")
    if not text:
        return None
    return tag + text if _numeric(text) else text


def map_unique(series: pd.Series, fn: Callable[[object], object]) -> pd.Series:
    """``series.map(fn)`` calling ``fn`` once per distinct (hashable) value; NaN -> fn(None)."""
    codes, uniques = pd.factorize(series)
    mapped = np.empty(len(uniques) + 1, dtype=object)
    mapped[:-1] = [fn(v) for v in uniques]
    mapped[-1] = fn(None)
    return pd.Series(mapped[codes], index=series.index)


def tokens(series: pd.Series, tag: str, missing: str, multi: bool = False) -> pd.Series:
    """Maps a raw column to tokens (lists of tokens when ``multi``), filling ``missing``."""
    if not multi:
        return map_unique(series, lambda v: token(v, tag) or missing)

    def to_list(value) -> List[str]:
        if isinstance(value, str):
            value = value.split("|")
        elif not isinstance(value, (list, tuple)):
            value = [] if _is_missing(value) else [value]
        return [t for t in (token(v, tag) for v in value) if t] or [missing]

    return series.map(to_list)


def year_or_none(value) -> Optional[str]:
    """Four-digit year inside a raw value ("1995", 1995.0, "01-Jan-1995"), else None."""
    if _is_missing(value):
        return None
    match = _YEAR_RE.search(str(value))
    return match.group(1) if match else None


def keys(values: pd.Series) -> pd.Series:
    """Join keys: stripped strings, integral floats without ``.0``, missing -> ''."""
    return map_unique(values, lambda v: token(v, "") or "")


def required_values(frame: pd.DataFrame, column: str, path: str, numeric: bool) -> pd.Series:
    """A required interaction column; empty (or, if ``numeric``, non-numeric) cells raise."""
    values = pd.to_numeric(frame[column], errors="coerce") if numeric else keys(frame[column])
    bad = values.isna() if numeric else values == ""
    if bad.any():
        row = int(bad.to_numpy().nonzero()[0][0])
        kind = "a number" if numeric else "a value"
        raise ValueError(f"{path}, data row {row + 1}, column {column!r}: expected {kind}, "
                         f"got {frame[column].iloc[row]!r}")
    return values.astype(float) if numeric else values


# ---------------------------------------------------------------- retrieval examples
def _history(items: np.ndarray, start: int, idx: int, k: int) -> List[str]:
    """Up to ``k`` distinct items before ``idx`` (same user), never the label item."""
    label, hist, j = items[idx], [], idx - 1
    while j >= start and len(hist) < k:
        if items[j] != label and items[j] not in hist:
            hist.append(items[j])
        j -= 1
    return hist[::-1]


def retrieval_examples(frame: pd.DataFrame, label: str, history_len: int, min_history: int,
                       missing: str) -> pd.DataFrame:
    """One example per rating: ``label`` = that item, ``history`` = the K previous items.

    Ratings are ordered per user by ``(_time, _order)``; examples with fewer than
    ``min_history`` history items (a user's first ratings) are dropped.
    """
    frame = frame.sort_values(["_user", "_time", "_order"], kind="mergesort")
    items = tokens(frame["_item"], "i", missing).to_numpy()
    users = frame["_user"].to_numpy()
    keep, histories, start = [], [], 0
    for idx in range(len(frame)):
        if idx and users[idx] != users[idx - 1]:
            start = idx
        hist = _history(items, start, idx, history_len)
        if len(hist) >= min_history:
            keep.append(idx)
            histories.append(hist or [missing])
    out = frame.iloc[keep].copy()
    out["history"] = histories
    out[label] = items[keep]
    return out


# ---------------------------------------------------------------- splits
def _check_fractions(fractions: Sequence[float]) -> np.ndarray:
    """Validated (train, eval, test) shares."""
    f = np.asarray(fractions, dtype=float)
    if f.shape != (3,) or (f < 0).any() or f[0] <= 0 or abs(f.sum() - 1.0) > 1e-6:
        raise ValueError(f"fractions must be 3 non-negative shares (train > 0) summing to 1, "
                         f"got {tuple(fractions)}")
    return f


def _cut(frame: pd.DataFrame, f: np.ndarray) -> Dict[str, pd.DataFrame]:
    """Cuts an ordered frame into consecutive train / eval / test blocks."""
    n = len(frame)
    n_train = int(round(n * f[0]))
    n_eval = min(int(round(n * f[1])), n - n_train)
    return {"train": frame.iloc[:n_train], "eval": frame.iloc[n_train:n_train + n_eval],
            "test": frame.iloc[n_train + n_eval:]}


def _per_user_time(frame: pd.DataFrame, f: np.ndarray) -> Dict[str, pd.DataFrame]:
    """Each user's last examples -> test, the ones before -> eval, the rest -> train.

    Users with fewer than 3 examples stay entirely in train.
    """
    frame = frame.sort_values(["_user", "_time", "_order"], kind="mergesort")
    pos = frame.groupby("_user", sort=False).cumcount().to_numpy()
    n = frame.groupby("_user", sort=False)["_user"].transform("size").to_numpy()

    def count(share: float) -> np.ndarray:
        return np.where((n >= 3) & (share > 0), np.maximum(1, np.round(n * share)), 0)

    n_test, n_eval = count(f[2]), count(f[1])
    part = np.where(pos >= n - n_test, "test", np.where(pos >= n - n_test - n_eval, "eval",
                                                        "train"))
    return {name: frame[part == name] for name in ("train", "eval", "test")}


def split(examples: pd.DataFrame, task: str, mode: str, fractions: Sequence[float],
          seed: int) -> Dict[str, pd.DataFrame]:
    """train / eval / test examples.

    Ranking: "random" shuffles with ``seed``, "time" cuts the global time order.
    Retrieval: always per user by time (``_per_user_time``).
    """
    f = _check_fractions(fractions)
    if task == "retrieval":
        return _per_user_time(examples, f)
    if mode == "random":
        order = np.random.default_rng(seed).permutation(len(examples))
        return _cut(examples.iloc[order], f)
    return _cut(examples.sort_values(["_time", "_order"], kind="mergesort"), f)


# ---------------------------------------------------------------- config and writers
def dataset_config(examples: pd.DataFrame, multi: Dict[str, bool], task: str, label: str,
                   features: Optional[Sequence[str]], history_len: int) -> DatasetConfig:
    """DatasetConfig of the built examples.

    Args:
      examples: example frame (multi-valued columns hold lists).
      multi: available feature name -> multivalent, in output order.
      task: "ranking" or "retrieval".
      label: label column.
      features: names to keep (``None`` = all of ``multi``).
      history_len: max_len of ``history``; other multi-valued features get the
        longest list seen.
    """
    names = list(multi) if features is None else list(features)
    unknown = [f for f in names if f not in multi]
    if unknown:
        raise ValueError(f"unknown or unavailable feature(s) {unknown} for task {task!r}; "
                         f"available: {list(multi)}")
    feats = []
    for name in names:
        if not multi[name]:
            feats.append(FeatureConfig(name))
            continue
        longest = history_len if name == "history" else \
            max([1] + [len(v) for v in examples[name]])
        feats.append(FeatureConfig(name, multivalent=True, max_len=longest))
    return DatasetConfig(task=task, label=label, features=tuple(feats))


def write_csv(frame: pd.DataFrame, dataset: DatasetConfig, path: str) -> None:
    """Writes the features (multi-valued ones joined by their separator) and the label."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    out = pd.DataFrame(index=frame.index)
    for feat in dataset.features:
        col = frame[feat.name]
        out[feat.name] = col.map(feat.separator.join) if feat.multivalent else col
    out[dataset.label] = frame[dataset.label]
    out.to_csv(path, index=False)


def make_schema(dataset: DatasetConfig, int_label: bool) -> schema_pb2.Schema:
    """Schema of the CSV: one required BYTES value per feature, INT (0/1) or BYTES label.

    Same conventions as ``synthetic.make_schema`` (``value_count`` 1..1, no shape),
    so Transform sees both sources alike.
    """
    schema = schema_pb2.Schema()
    for name in dataset.names + [dataset.label]:
        is_int = name == dataset.label and int_label
        feature = schema.feature.add(name=name, type=schema_pb2.INT if is_int else schema_pb2.BYTES)
        feature.presence.min_fraction = 1.0
        feature.presence.min_count = 1
        feature.value_count.min = feature.value_count.max = 1
        if is_int:
            feature.int_domain.min, feature.int_domain.max = 0, 1
            feature.int_domain.is_categorical = True
    return schema


def write_schema(dataset: DatasetConfig, int_label: bool, path: str) -> None:
    """Writes ``make_schema`` as text proto to ``path``."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text_format.MessageToString(make_schema(dataset, int_label)))
