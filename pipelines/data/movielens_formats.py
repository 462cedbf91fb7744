"""Readers for MovieLens dumps: GroupLens ML-100K / ML-1M files and RecBole atomic files.

Every reader returns ``RawTables``: an interaction table and optional user and item
tables, each a pandas DataFrame plus the *kind* of every column, using RecBole's
vocabulary (``token``, ``token_seq``, ``float``, ``float_seq``). Cells hold ``str``
(token), ``float`` (float, NaN when empty) or ``list`` (``*_seq``). GroupLens files
are translated to the column names RecBole uses for the same data (``user_id``,
``item_id``, ``rating``, ``timestamp``, ``age``, ``gender``, ``occupation``,
``zip_code``, ``genres``, ``release_year``), so ``movielens.py`` resolves columns the
same way for every source. Malformed input raises ``ValueError`` naming the file,
the line and the column.
"""
from __future__ import annotations

import dataclasses
import math
import os
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

import pandas as pd

FORMATS = ("grouplens-100k", "grouplens-1m", "recbole")
KINDS = ("token", "token_seq", "float", "float_seq")
ML100K_GENRES = ("unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime",
                 "Documentary", "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery",
                 "Romance", "Sci-Fi", "Thriller", "War", "Western")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_DATE_RE = re.compile(r"^\d{1,2}-(%s)-(\d{4})$" % "|".join(_MONTHS))
_TITLE_YEAR_RE = re.compile(r"\((\d{4})\)\s*$")


@dataclasses.dataclass
class Table:
    """One parsed file: its path, its rows and the kind of each column."""

    path: str
    frame: pd.DataFrame
    kinds: Dict[str, str]


@dataclasses.dataclass
class RawTables:
    """Interactions (required) plus optional user and item side tables."""

    format: str
    inter: Table
    users: Optional[Table] = None
    items: Optional[Table] = None

    def tables(self) -> Dict[str, Table]:
        """Present tables by name (``inter``, ``users``, ``items``)."""
        named = {"inter": self.inter, "users": self.users, "items": self.items}
        return {name: t for name, t in named.items() if t is not None}


def _lines(path: str, sep: str, n_fields: Optional[int],
           encodings: Sequence[str] = ("utf-8", "latin-1")) -> Iterator[Tuple[int, List[str]]]:
    """Yields ``(line_number, fields)`` of the non-blank lines of ``path``."""
    if not os.path.isfile(path):
        raise ValueError(f"{path}: file not found")
    text = None
    for encoding in encodings:
        try:
            with open(path, encoding=encoding, newline="") as f:
                text = f.read()
            break
        except UnicodeDecodeError:
            continue
    if text is None:
        raise ValueError(f"{path}: cannot decode as any of {list(encodings)}")
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines(): keeps \x85
        line = line.rstrip("\r")
        if not line.strip():
            continue
        fields = line.split(sep)
        if n_fields is not None and len(fields) != n_fields:
            raise ValueError(f"{path}, line {number}: expected {n_fields} {sep!r}-separated "
                             f"fields, got {len(fields)}: {line[:80]!r}")
        yield number, fields


def _parse_float(text: str, path: str, column: str, line: int) -> float:
    """Float cell; empty is NaN, anything else unparseable is an error."""
    text = text.strip()
    if not text:
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{path}, line {line}, column {column!r}: "
                         f"expected a number, got {text!r}") from None


def _parse_cell(text: str, kind: str, path: str, column: str, line: int, seq_sep: str):
    """Converts one raw cell to the Python value of its kind."""
    if kind == "token":
        return text.strip()
    if kind == "float":
        return _parse_float(text, path, column, line)
    parts = [p for p in text.split(seq_sep if seq_sep.strip() else None) if p.strip()]
    if kind == "token_seq":
        return [p.strip() for p in parts]
    return [_parse_float(p, path, column, line) for p in parts]


def _table(path: str, rows: List[List], columns: Sequence[str], kinds: Sequence[str]) -> Table:
    """Builds a Table from parsed rows."""
    frame = pd.DataFrame.from_records(rows, columns=list(columns)) if rows else \
        pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return Table(path=path, frame=frame, kinds=dict(zip(columns, kinds)))


def _typed_table(path: str, sep: str, columns: Sequence[str], kinds: Sequence[str],
                 encodings: Sequence[str] = ("latin-1",)) -> Table:
    """Reads a header-less delimited file whose columns and kinds are known."""
    rows = [[_parse_cell(v, k, path, c, number, " ") for v, c, k in zip(fields, columns, kinds)]
            for number, fields in _lines(path, sep, len(columns), encodings)]
    return _table(path, rows, columns, kinds)


# ---------------------------------------------------------------- GroupLens ML-100K
def _release_year(text: str, path: str, line: int) -> str:
    """Year of a 'dd-Mon-yyyy' release date ('' when the date is empty)."""
    text = text.strip()
    if not text:
        return ""
    match = _DATE_RE.match(text)
    if not match:
        raise ValueError(f"{path}, line {line}, column 'release_date': expected "
                         f"'dd-Mon-yyyy', got {text!r}")
    return match.group(2)


def _genre_names(source: str) -> Sequence[str]:
    """Genre names of ML-100K flag columns, from ``u.genre`` when present."""
    path = os.path.join(source, "u.genre")
    if not os.path.isfile(path):
        return ML100K_GENRES
    pairs = sorted((int(f[1]), f[0]) for _, f in _lines(path, "|", 2, ("latin-1",)))
    return tuple(name for _, name in pairs)


def read_grouplens_100k(source: str) -> RawTables:
    """Reads ``u.data``, ``u.user`` and ``u.item`` (latin-1) from ``source``."""
    inter = _typed_table(os.path.join(source, "u.data"), "\t",
                         ("user_id", "item_id", "rating", "timestamp"),
                         ("token", "token", "float", "float"))
    users = _typed_table(os.path.join(source, "u.user"), "|",
                         ("user_id", "age", "gender", "occupation", "zip_code"), ("token",) * 5)
    genres = _genre_names(source)
    path = os.path.join(source, "u.item")
    rows = []
    for number, f in _lines(path, "|", 5 + len(genres), ("latin-1",)):
        flags = f[5:]
        bad = [v for v in flags if v.strip() not in ("0", "1")]
        if bad:
            raise ValueError(f"{path}, line {number}, genre flag columns: expected 0/1, "
                             f"got {bad[0]!r}")
        rows.append([f[0].strip(), f[1].strip(), _release_year(f[2], path, number),
                     [g for g, v in zip(genres, flags) if v.strip() == "1"]])
    items = _table(path, rows, ("item_id", "movie_title", "release_year", "genres"),
                   ("token", "token", "token", "token_seq"))
    return RawTables("grouplens-100k", inter, users, items)


# ---------------------------------------------------------------- GroupLens ML-1M
def read_grouplens_1m(source: str) -> RawTables:
    """Reads ``ratings.dat``, ``users.dat`` and ``movies.dat`` ('::'-separated)."""
    inter = _typed_table(os.path.join(source, "ratings.dat"), "::",
                         ("user_id", "item_id", "rating", "timestamp"),
                         ("token", "token", "float", "float"))
    users = _typed_table(os.path.join(source, "users.dat"), "::",
                         ("user_id", "gender", "age", "occupation", "zip_code"), ("token",) * 5)
    path = os.path.join(source, "movies.dat")
    rows = []
    for _, f in _lines(path, "::", 3, ("utf-8", "latin-1")):
        title = f[1].strip()
        match = _TITLE_YEAR_RE.search(title)
        rows.append([f[0].strip(), title, match.group(1) if match else "",
                     [g.strip() for g in f[2].split("|") if g.strip()]])
    items = _table(path, rows, ("item_id", "movie_title", "release_year", "genres"),
                   ("token", "token", "token", "token_seq"))
    return RawTables("grouplens-1m", inter, users, items)


# ---------------------------------------------------------------- RecBole atomic files
def _recbole_header(path: str, fields: List[str]) -> Tuple[List[str], List[str]]:
    """Splits ``name:type`` header fields into names and kinds."""
    names, kinds = [], []
    for field in fields:
        name, _, kind = field.strip().rpartition(":")
        if not name or kind not in KINDS:
            raise ValueError(f"{path}, header column {field.strip()!r}: expected 'name:type' "
                             f"with type one of {KINDS}")
        names.append(name)
        kinds.append(kind)
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ValueError(f"{path}: duplicate header column(s) {dup}")
    return names, kinds


def read_recbole_file(path: str, seq_sep: str = " ") -> Table:
    """Reads one RecBole atomic file (tab-separated, ``name:type`` header)."""
    lines = _lines(path, "\t", None)
    try:
        _, header = next(lines)
    except StopIteration:
        raise ValueError(f"{path}: empty file, expected a 'name:type' header") from None
    names, kinds = _recbole_header(path, header)
    rows = []
    for number, fields in lines:
        if len(fields) != len(names):
            raise ValueError(f"{path}, line {number}: expected {len(names)} tab-separated "
                             f"fields ({names}), got {len(fields)}")
        rows.append([_parse_cell(v, k, path, c, number, seq_sep)
                     for v, c, k in zip(fields, names, kinds)])
    return _table(path, rows, names, kinds)


def _recbole_stem(source: str) -> str:
    """Common stem of the RecBole files in ``source`` (from its single ``*.inter``)."""
    inters = sorted(f for f in os.listdir(source) if f.endswith(".inter"))
    if len(inters) != 1:
        raise ValueError(f"{source}: expected exactly one RecBole '*.inter' file, "
                         f"found {inters or 'none'}")
    return os.path.join(source, inters[0][:-len(".inter")])


def read_recbole(source: str, seq_sep: str = " ") -> RawTables:
    """Reads ``<stem>.inter`` and, when present, ``<stem>.user`` / ``<stem>.item``."""
    stem = _recbole_stem(source)
    side = {ext: read_recbole_file(stem + ext, seq_sep) if os.path.isfile(stem + ext) else None
            for ext in (".user", ".item")}
    return RawTables("recbole", read_recbole_file(stem + ".inter", seq_sep),
                     side[".user"], side[".item"])


# ---------------------------------------------------------------- dispatch
def detect_format(source: str) -> str:
    """Guesses the format of a MovieLens directory from the file names in it."""
    if not os.path.isdir(source):
        raise ValueError(f"{source}: source directory not found")
    names = set(os.listdir(source))
    if "u.data" in names:
        return "grouplens-100k"
    if "ratings.dat" in names:
        return "grouplens-1m"
    if any(n.endswith(".inter") for n in names):
        return "recbole"
    raise ValueError(f"{source}: cannot detect the MovieLens format; expected 'u.data' "
                     f"(ML-100K), 'ratings.dat' (ML-1M) or a RecBole '*.inter' file")


def read_tables(source: str, fmt: str = "auto") -> RawTables:
    """Reads a MovieLens directory in format ``fmt`` (``auto`` detects it)."""
    if fmt == "auto":
        fmt = detect_format(source)
    readers = {"grouplens-100k": read_grouplens_100k, "grouplens-1m": read_grouplens_1m,
               "recbole": read_recbole}
    if fmt not in readers:
        raise ValueError(f"unknown format {fmt!r}; expected 'auto' or one of {FORMATS}")
    if not os.path.isdir(source):
        raise ValueError(f"{source}: source directory not found")
    return readers[fmt](source)
