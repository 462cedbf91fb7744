"""Checks of local inputs before any Beam work: paths, well-formed UTF-8 CSV, ids that survive.

CsvExampleGen reports a malformed row or a non-UTF-8 byte from deep inside a
Beam worker, without the file name. ``check_inputs`` reads the local inputs once
in Python first and raises an ``InputError`` with one line naming the file, the
line and what is wrong. Remote paths (``gs://`` and other URL schemes) are left
to the pipeline.

It also checks that the raw value of every id (a feature column of the dataset
config, and the retrieval label) reaches its vocabulary unchanged. Between the
CSV cell and the vocabulary, three steps act on a value:

* the CSV reader (tfx_bsl, as CsvExampleGen runs it): the last of duplicate
  header names wins; a column of which every value in a split reads as an
  integer is stored as int64 (``'007'`` and ``'+7'`` become ``7``), one that
  reads as numbers as float32 (``'1.50'`` becomes ``1.5``, ``'1234567'`` in a
  float column ``1.23457e+06``); a UTF-8 byte-order mark renames the first
  column;
* ``preprocessing_fn``: splits a multi-valued cell on its separator, strips
  ASCII whitespace, drops empty items, keeps ``max_len`` items of a row;
* TF Transform's text vocabulary: drops every token holding ``\\n`` or ``\\r``
  (its file has one token per line).

Each of these that would change or lose an id stops the run here, naming the
file, the line, the column and the value (``repr``). An empty cell is a missing
value (its ids are padding), not an id. A feature column empty in every row, or
holding one value in every row, and a ranking label with one value in every row
(AUC is undefined) stop the run too. Rows of a multi-valued column with more
items than its ``max_len`` are handled exactly (the vocabulary counts the first
``max_len`` items of a row, the ones the model sees) and counted in a note.

Example::

    check_inputs(cfg)   # raises InputError("data/a.csv line 7: 3 fields but the header has 4")
"""
from __future__ import annotations

import csv
import dataclasses
import glob
import os
import struct
from typing import Dict, Iterator, List, Optional, Tuple

from pipelines.config import PipelineConfig
from trainer_module.data.features import DatasetConfig, FeatureConfig

_TF_WHITESPACE = " \t\n\v\f\r"  # what tf.strings.strip removes
_INT64 = (-2 ** 63, 2 ** 63 - 1)
# tfx_bsl's column type hierarchy (csv_decoder.ColumnType): the highest type seen wins.
_UNKNOWN, _INT, _FLOAT, _STRING = range(4)


class InputError(ValueError):
    """A local input path is missing or a CSV file is malformed; the message names it."""


def _is_local(path: str) -> bool:
    return "://" not in path


def input_groups(cfg: PipelineConfig) -> List[Tuple[str, List[str]]]:
    """The files ExampleGen reads, per input (``data_path/*`` or each ``input_splits`` glob).

    CsvExampleGen infers column types once per input, so numeric ids are judged per group.
    """
    patterns = list(cfg.input_splits.values()) if cfg.input_splits else ["*"]
    groups = []
    for pattern in patterns:
        matches = sorted(p for p in glob.glob(os.path.join(cfg.data_path, pattern))
                         if os.path.isfile(p))
        if not matches:
            raise InputError(f"--data-path {cfg.data_path}: no input file matches {pattern!r}")
        groups.append((pattern, matches))
    return groups


def input_files(cfg: PipelineConfig) -> List[str]:
    """The files ExampleGen will read: ``data_path/*`` or the ``input_splits`` globs."""
    return [p for _, files in input_groups(cfg) for p in files]


def _utf8_lines(path: str) -> Iterator[str]:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{path} line {lineno}: not UTF-8 text (byte {raw[e.start]:#04x} at column "
                    f"{e.start + 1}); re-encode the file as UTF-8") from None


def _value_type(value: str) -> int:
    """tfx_bsl's ``_InferValueType`` of one cell."""
    if not value:
        return _UNKNOWN
    try:
        return _INT if _INT64[0] <= int(value) <= _INT64[1] else _STRING
    except ValueError:
        try:
            float(value)
        except ValueError:
            return _STRING
        return _FLOAT


def _as_float_string(value: str) -> str:
    """What the vocabulary sees of a float column's cell: float32, ``tf.strings.as_string``."""
    try:
        return "%g" % struct.unpack("f", struct.pack("f", float(value)))[0]
    except OverflowError:
        return "inf" if float(value) > 0 else "-inf"


@dataclasses.dataclass
class _Where:
    path: str
    line: int
    value: str


@dataclasses.dataclass
class _Column:
    """What one id column holds, accumulated over the rows read so far."""

    feature: Optional[FeatureConfig]  # None: the label
    ids: bool = True                    # False: the ranking label (only its classes count)
    rows: int = 0
    first: Optional[str] = None
    constant: bool = True
    nonempty: bool = False
    over_max_len: int = 0
    largest_bag: int = 0
    group_type: int = _UNKNOWN          # reset per input group
    int_changed: Optional[Tuple[_Where, str]] = None
    float_changed: Optional[Tuple[_Where, str]] = None


def _item_problem(item: str) -> Optional[str]:
    if "\n" in item or "\r" in item:
        return ("holds a line break; TF Transform's vocabulary drops such ids (they would become "
                "id -1, a zero vector)")
    if item != item.strip(_TF_WHITESPACE):
        return (f"has leading/trailing whitespace; Transform strips it, so it would become "
                f"{item.strip(_TF_WHITESPACE)!r}")
    return None


def _check_cell(col: _Column, name: str, cell: str, where: _Where) -> None:
    col.rows += 1
    if col.first is None:
        col.first = cell
    elif cell != col.first:
        col.constant = False
    col.nonempty = col.nonempty or bool(cell)
    if not cell or not col.ids:
        return
    fc = col.feature
    items = cell.split(fc.separator) if fc is not None and fc.multivalent else [cell]
    for item in items:
        problem = _item_problem(item)
        if problem is None and not item and len(items) > 1:
            problem = (f"has an empty item (separator {fc.separator!r} at an end or doubled); "
                       "Transform would drop it silently")
        if problem:
            value = f"value {cell!r}" + (f" (item {item!r})" if len(items) > 1 and item else "")
            raise InputError(f"{where.path} line {where.line}: column {name!r} {value} "
                             f"{problem}; fix the value or the file")
    if fc is not None and fc.multivalent and len(items) > fc.max_len:
        col.over_max_len += 1
        col.largest_bag = max(col.largest_bag, len(items))
    kind = _value_type(cell)
    col.group_type = max(col.group_type, kind)
    if kind in (_INT, _FLOAT) and col.float_changed is None and _as_float_string(cell) != cell:
        col.float_changed = (where, _as_float_string(cell))
    if kind == _INT and col.int_changed is None and str(int(cell)) != cell:
        col.int_changed = (where, str(int(cell)))


def _end_group(columns: Dict[str, _Column]) -> None:
    """Raises when the reader's type of a column in this input group changes one of its ids."""
    for name, col in columns.items():
        changed, kind = {_INT: (col.int_changed, "integers (int64)"),
                         _FLOAT: (col.float_changed, "32-bit floats")}.get(col.group_type,
                                                                           (None, ""))
        if changed:
            where, seen = changed
            raise InputError(
                f"{where.path} line {where.line}: column {name!r} value {where.value!r} would "
                f"reach the vocabulary as {seen!r}: every value of the column in this input reads "
                f"as a number, so CsvExampleGen stores them as {kind}; write ids as they should "
                f"be compared (e.g. no leading zeros or '+') or give them a non-numeric prefix")
        col.group_type, col.int_changed, col.float_changed = _UNKNOWN, None, None


def _id_columns(dataset: DatasetConfig) -> Dict[str, Optional[FeatureConfig]]:
    columns: Dict[str, Optional[FeatureConfig]] = {fc.name: fc for fc in dataset.features}
    columns.setdefault(dataset.label, None)
    return columns


def check_csv(path: str, columns: Optional[Dict[str, _Column]] = None) -> None:
    """Raises InputError on a non-UTF-8 line, a row whose field count differs from the header,
    a duplicate header name, or (for ``columns``) an id that would not reach its vocabulary."""
    reader = csv.reader(_utf8_lines(path))
    columns = columns or {}
    try:
        header = next(reader, None)
        if header is None:
            return
        if header and header[0].startswith("\ufeff"):
            raise InputError(f"{path} line 1: the file starts with a UTF-8 byte-order mark; the "
                             f"first column would be named {header[0]!r}; save it without one")
        for name in header:
            if header.count(name) > 1:
                where = ", ".join(str(i + 1) for i, h in enumerate(header) if h == name)
                raise InputError(f"{path} line 1: column {name!r} appears {header.count(name)} "
                                 f"times in the header (columns {where}); CsvExampleGen would "
                                 "keep only the last; rename or remove the others")
        checked = [(i, name, columns[name]) for i, name in enumerate(header) if name in columns]
        start = reader.line_num + 1  # a quoted cell may span lines: name the row's first
        for row in reader:
            line, start = start, reader.line_num + 1
            if row and len(row) != len(header):
                raise InputError(f"{path} line {reader.line_num}: {len(row)} field(s) but the "
                                 f"header has {len(header)} ({','.join(header)})")
            if row:
                for i, name, col in checked:
                    _check_cell(col, name, row[i], _Where(path, line, row[i]))
    except csv.Error as e:
        raise InputError(f"{path} line {reader.line_num}: malformed CSV: {e}") from None


def _files_text(files: List[str]) -> str:
    return ", ".join(files[:3]) + (f" and {len(files) - 3} more" if len(files) > 3 else "")


def _column_problems(dataset: DatasetConfig, columns: Dict[str, _Column],
                     files: List[str]) -> List[str]:
    """Notes on truncated bags; raises on a useless feature column or a one-class label."""
    notes = []
    for name, col in columns.items():
        if col.rows < 2:
            continue
        where = f"{_files_text(files)}: column {name!r}"
        if col.feature is None:
            if dataset.task == "ranking" and col.constant and col.first:
                raise InputError(f"{where} (the ranking label) is {col.first!r} in every one of "
                                 f"the {col.rows:,} rows: one class, so AUC is undefined and "
                                 "nothing can be learned or evaluated")
            continue
        if not col.nonempty:
            raise InputError(f"{where} is empty in every one of the {col.rows:,} rows; it carries "
                             "no information: remove it from the dataset config")
        if col.constant:
            raise InputError(f"{where} holds the same value {col.first!r} in every one of the "
                             f"{col.rows:,} rows; it carries no information: remove it from the "
                             "dataset config")
        if col.over_max_len:
            m = col.feature.max_len
            notes.append(f"Note: column {name!r}: {col.over_max_len:,} of {col.rows:,} rows hold "
                         f"more than max_len {m} items (up to {col.largest_bag:,}); the "
                         f"vocabulary and the model use the first {m} items of each row")
    return notes


def check_inputs(cfg: PipelineConfig) -> List[str]:
    """Local paths exist and every local CSV input is well-formed and keeps its ids (see the
    module docstring); returns notes to print (rows truncated to ``max_len``)."""
    for flag, path in (("--data-path", cfg.data_path), ("--schema-path", cfg.schema_path),
                       ("--dataset-config", cfg.dataset_config_path if cfg.dataset is None
                        else None)):
        if path and _is_local(path) and not os.path.exists(path):
            raise InputError(f"{flag} {path}: no such file or folder")
    if cfg.input_format != "csv" or not _is_local(cfg.data_path):
        return []
    dataset = cfg.load_dataset()
    columns = {name: _Column(fc, ids=fc is not None or dataset.task == "retrieval")
               for name, fc in _id_columns(dataset).items()}
    files = []
    for _, group in input_groups(cfg):
        for path in group:
            check_csv(path, columns)
        files += group
        _end_group(columns)
    return _column_problems(dataset, columns, files)
