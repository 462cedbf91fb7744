"""MovieLens -> pre-split CSV + tensorflow_metadata schema + ``DatasetConfig`` for the pipeline.

Reads GroupLens ML-100K / ML-1M or RecBole atomic files (``movielens_formats``),
resolves which columns play which role (``ColumnRoles``; auto-detected from the
headers), builds ranking or retrieval examples and writes::

    out/train/data.csv  out/eval/data.csv  out/test/data.csv   (single file: out/data/data.csv)
    out/schema/schema.pbtxt   out/dataset_config.json

Feed ``out`` to ``CsvExampleGen`` with ``split_patterns()`` as its input splits and
the schema to ``ImportSchemaGen``. CSV cells are never empty (missing values become
``missing_token``), multi-valued cells are joined by ``|`` and every categorical
value is a non-numeric string: values that would parse as numbers get a short tag
(``u196``, ``i242``, ``age24``, ``y1995``) because CsvExampleGen infers column
types from the data of each split. The schema (same conventions as
``synthetic.py``) declares one required ``BYTES`` value per feature; the label is
``liked`` (``INT`` 0/1, rating >= 4) for ranking and ``next_item`` (``BYTES``, the
next item's token) for retrieval.

CLI::

    python -m pipelines.data.movielens --source data_cache/ml-100k --task ranking --out build/ml
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
from typing import Dict, List, Optional, Tuple

import pandas as pd

from pipelines.data import movielens_examples as ex
from pipelines.data.movielens_formats import FORMATS, RawTables, read_tables
from trainer_module.data.features import DatasetConfig

SPLITS = ("train", "eval", "test")
LABELS = {"ranking": "liked", "retrieval": "next_item"}
ROLE_CANDIDATES = {
    "user": ("user_id", "userid", "user", "uid"),
    "item": ("item_id", "itemid", "movie_id", "movieid", "item", "iid"),
    "rating": ("rating", "ratings", "score"),
    "timestamp": ("timestamp", "time", "ts", "datetime"),
    "gender": ("gender", "sex"),
    "age": ("age",),
    "occupation": ("occupation", "job"),
    "zip_code": ("zip_code", "zipcode", "zip", "postcode"),
    "genres": ("genres", "genre", "class", "classes", "category", "categories"),
    "release_year": ("release_year", "year"),
}
USER_ROLES = ("gender", "age", "occupation", "zip_code")
ITEM_ROLES = ("genres", "release_year")
TAGS = {"user_id": "u", "item_id": "i", "age": "age", "zip_code": "zip", "release_year": "y",
        "occupation": "occ", "gender": "g", "genres": "genre"}


@dataclasses.dataclass(frozen=True)
class ColumnRoles:
    """Raw column name of each role; ``None`` auto-detects it from ``ROLE_CANDIDATES``."""

    user: Optional[str] = None
    item: Optional[str] = None
    rating: Optional[str] = None
    timestamp: Optional[str] = None
    gender: Optional[str] = None
    age: Optional[str] = None
    occupation: Optional[str] = None
    zip_code: Optional[str] = None
    genres: Optional[str] = None
    release_year: Optional[str] = None


@dataclasses.dataclass(frozen=True)
class MovieLensConfig:
    """What to build from the raw files.

    Attributes:
      task: "ranking" (label = rating >= rating_threshold) or "retrieval" (label =
        the user's next item, features = user features + ``history``).
      split: "random" or "time"; ``None`` = random for ranking, time for retrieval
        (retrieval is always split per user by time).
      fractions: train / eval / test shares.
      seed: seed of the random split.
      rating_threshold: ranking label threshold.
      history_len: K, items kept in the retrieval ``history`` feature.
      min_history: retrieval examples need at least this many history items.
      features: output feature names to keep (``None`` = every available one).
      extra_features: further raw user/item columns to add as features (multi-valued
        when their kind is ``*_seq``).
      roles: raw column names of the canonical roles.
      single_file: write all examples to ``out/data/data.csv`` instead of three splits.
      missing_token: value written for missing categorical values.
    """

    task: str = "ranking"
    split: Optional[str] = None
    fractions: Tuple[float, float, float] = (0.7, 0.2, 0.1)
    seed: int = 0
    rating_threshold: float = 4.0
    history_len: int = 10
    min_history: int = 1
    features: Optional[Tuple[str, ...]] = None
    extra_features: Tuple[str, ...] = ()
    roles: ColumnRoles = ColumnRoles()
    single_file: bool = False
    missing_token: str = "__missing__"

    def __post_init__(self):
        if self.task not in LABELS:
            raise ValueError(f"task must be one of {tuple(LABELS)}, got {self.task!r}")
        if self.history_len < 1 or self.min_history < 0:
            raise ValueError(f"history_len must be >= 1 and min_history >= 0, got "
                             f"{self.history_len} / {self.min_history}")
        self.split_mode()

    def split_mode(self) -> str:
        """The effective split ("random" or "time")."""
        split = self.split or ("random" if self.task == "ranking" else "time")
        if split not in ("random", "time"):
            raise ValueError(f"split must be 'random' or 'time', got {split!r}")
        if self.task == "retrieval" and split != "time":
            raise ValueError("retrieval examples are split per user by time; split='random' "
                             "would put a user's future items into training")
        return split


# ---------------------------------------------------------------- column roles
def _find(tables: RawTables, role: str, explicit: Optional[str],
          where: Tuple[str, ...]) -> Optional[Tuple[str, str]]:
    """(table, column) playing ``role``; an explicit name that is absent is an error."""
    wanted = (explicit,) if explicit else ROLE_CANDIDATES[role]
    present = tables.tables()
    for name in where:
        if name not in present:
            continue
        lower = {str(c).lower(): c for c in present[name].frame.columns}
        for cand in wanted:
            if cand.lower() in lower:
                return name, lower[cand.lower()]
    if explicit:
        files = [present[n].path for n in where if n in present]
        raise ValueError(f"column {explicit!r} ({role}) not found in {files}")
    return None


def _required(tables: RawTables, role: str, roles: ColumnRoles, why: str) -> str:
    """Interaction column of a required role, or a ValueError naming the file."""
    found = _find(tables, role, getattr(roles, role), ("inter",))
    if found is None:
        raise ValueError(f"{tables.inter.path}: no {role} column ({why}); looked for "
                         f"{list(ROLE_CANDIDATES[role])} in {list(tables.inter.frame.columns)}; "
                         f"name it with ColumnRoles({role}=...)")
    return found[1]


def _side_lookup(tables: RawTables, table: str, values: pd.Series, key_role: str,
                 roles: ColumnRoles) -> Dict[str, object]:
    """``key -> value`` of the users/items table ``table`` (``values`` aligned with it)."""
    side = tables.tables()[table]
    key = _find(tables, key_role, getattr(roles, key_role), (table,))
    if key is None:
        raise ValueError(f"{side.path}: no {key_role} key column; looked for "
                         f"{list(ROLE_CANDIDATES[key_role])} in {list(side.frame.columns)}")
    keys = ex.keys(side.frame[key[1]])
    dup = keys[keys.duplicated()]
    if len(dup):
        raise ValueError(f"{side.path}, column {key[1]!r}: duplicate key {dup.iloc[0]!r}")
    return dict(zip(keys, values))


def _feature_columns(tables: RawTables, cfg: MovieLensConfig) -> List[Tuple[str, str, str, str]]:
    """``(output name, table, raw column, kind)`` of the side/interaction features."""
    out = []
    roles = USER_ROLES if cfg.task == "retrieval" else USER_ROLES + ITEM_ROLES
    for role in roles:
        where = ("users", "inter") if role in USER_ROLES else ("items", "inter")
        found = _find(tables, role, getattr(cfg.roles, role), where)
        if found:
            out.append((role, found[0], found[1], tables.tables()[found[0]].kinds[found[1]]))
    for raw in cfg.extra_features:
        where = ("users", "inter") if cfg.task == "retrieval" else ("users", "items", "inter")
        found = next(((t, raw) for t in where if t in tables.tables()
                      and raw in tables.tables()[t].frame.columns), None)
        if found is None:
            raise ValueError(f"extra feature column {raw!r} not found in the "
                             f"{'/'.join(where)} files of this {tables.format} source")
        out.append((raw, found[0], raw, tables.tables()[found[0]].kinds[raw]))
    return out


# ---------------------------------------------------------------- interactions
def interactions(tables: RawTables, cfg: MovieLensConfig) -> Tuple[pd.DataFrame, Dict[str, bool]]:
    """One row per rating: ``_user``, ``_time``, ``_order``, ``rating``, token features.

    Returns the frame and ``{feature: multivalent}`` of its feature columns.
    """
    inter = tables.inter
    time_needed = cfg.task == "retrieval" or cfg.split_mode() == "time"
    cols = {"user": _required(tables, "user", cfg.roles, "always needed"),
            "item": _required(tables, "item", cfg.roles, "always needed")}
    if cfg.task == "ranking":
        cols["rating"] = _required(tables, "rating", cfg.roles, "the ranking label")
    if time_needed:
        cols["timestamp"] = _required(tables, "timestamp", cfg.roles, "time ordering")
    values = {role: ex.required_values(inter.frame, column, inter.path,
                                        numeric=role in ("rating", "timestamp"))
              for role, column in cols.items()}
    frame = pd.DataFrame({"_user": values["user"], "_item": values["item"],
                          "_order": range(len(inter.frame)),
                          "_time": values.get("timestamp", 0.0)})
    if "rating" in values:
        frame["rating"] = values["rating"]
    multi = {"user_id": False}
    frame["user_id"] = ex.tokens(frame["_user"], "u", cfg.missing_token)
    if cfg.task == "ranking":
        frame["item_id"] = ex.tokens(frame["_item"], "i", cfg.missing_token)
        multi["item_id"] = False
    for name, table, column, kind in _feature_columns(tables, cfg):
        multi[name] = name == "genres" or kind.endswith("_seq")
        frame[name] = _feature_tokens(tables, frame, name, table, column, multi[name], cfg)
    return frame, multi


def _feature_tokens(tables: RawTables, frame: pd.DataFrame, name: str, table: str, column: str,
                    is_multi: bool, cfg: MovieLensConfig) -> pd.Series:
    """Tokens of one feature per interaction row (side tables are tokenised, then joined)."""
    raw = tables.tables()[table].frame[column]
    if name == "release_year" and not is_multi:
        raw = ex.map_unique(raw, ex.year_or_none)
    toks = ex.tokens(raw, TAGS.get(name, f"{name}_"), cfg.missing_token, is_multi)
    if table == "inter":
        return toks.set_axis(frame.index)
    key_role, key_col = ("user", "_user") if table == "users" else ("item", "_item")
    joined = frame[key_col].map(_side_lookup(tables, table, toks, key_role, cfg.roles))
    if not joined.isna().any():
        return joined
    fill = [cfg.missing_token] if is_multi else cfg.missing_token
    return joined.map(lambda v: fill if v is None or isinstance(v, float) else v)


# ---------------------------------------------------------------- dataset assembly
def load_movielens(source: str, fmt: str = "auto", config: MovieLensConfig = MovieLensConfig()
                   ) -> Tuple[Dict[str, pd.DataFrame], DatasetConfig]:
    """Reads ``source`` and returns split name -> examples and the ``DatasetConfig``.

    Example frames hold the features (lists for multi-valued ones), the label and
    the helper columns ``_user`` (raw user id) and ``_time`` (timestamp of the label
    interaction). Single-file mode returns one split named ``data``.
    """
    tables = read_tables(source, fmt)
    frame, multi = interactions(tables, config)
    label = LABELS[config.task]
    if config.task == "ranking":
        examples = frame.assign(**{label: (frame["rating"] >= config.rating_threshold).astype(int)})
    else:
        examples = ex.retrieval_examples(frame, label, config.history_len, config.min_history,
                                         config.missing_token)
        multi["history"] = True
    dataset = ex.dataset_config(examples, multi, config.task, label, config.features,
                                config.history_len)
    keep = dataset.names + [label, "_user", "_time"]
    if config.single_file:
        return {"data": examples[keep].reset_index(drop=True)}, dataset
    splits = ex.split(examples, config.task, config.split_mode(), config.fractions, config.seed)
    return {name: part[keep].reset_index(drop=True) for name, part in splits.items()}, dataset


def split_patterns(single_file: bool = False) -> Dict[str, str]:
    """CsvExampleGen input split name -> file pattern relative to the output dir."""
    return {"data": "data/*"} if single_file else {s: f"{s}/*" for s in SPLITS}


def schema_path(out_dir: str) -> str:
    """Path of the schema written by ``prepare_movielens``."""
    return os.path.join(out_dir, "schema", "schema.pbtxt")


def prepare_movielens(source: str, out_dir: str, fmt: str = "auto",
                      config: MovieLensConfig = MovieLensConfig()) -> DatasetConfig:
    """Writes the split CSVs, the schema and ``dataset_config.json``; returns the config."""
    splits, dataset = load_movielens(source, fmt, config)
    for name, frame in splits.items():
        ex.write_csv(frame, dataset, os.path.join(out_dir, name, "data.csv"))
    ex.write_schema(dataset, config.task == "ranking", schema_path(out_dir))
    with open(os.path.join(out_dir, "dataset_config.json"), "w", encoding="utf-8") as f:
        f.write(dataset.to_json())
    return dataset


def main(argv: Optional[List[str]] = None) -> None:
    """CLI entry point; prints the per-split example counts."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--source", required=True, help="directory with the MovieLens files")
    p.add_argument("--format", default="auto", choices=("auto",) + FORMATS)
    p.add_argument("--task", default="ranking", choices=("ranking", "retrieval"))
    p.add_argument("--split", default=None, choices=("random", "time"))
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--history-len", type=int, default=10)
    p.add_argument("--single-file", action="store_true")
    args = p.parse_args(argv)
    cfg = MovieLensConfig(task=args.task, split=args.split, seed=args.seed,
                          history_len=args.history_len, single_file=args.single_file)
    dataset = prepare_movielens(args.source, args.out, args.format, cfg)
    counts = {}
    for split in split_patterns(args.single_file):
        with open(os.path.join(args.out, split, "data.csv"), encoding="utf-8") as f:
            counts[split] = sum(1 for _ in f) - 1
    print(json.dumps({"out": args.out, "counts": counts, "schema": schema_path(args.out),
                      "label": dataset.label,
                      "features": {f.name: f.max_len for f in dataset.features}}))


if __name__ == "__main__":
    main()
