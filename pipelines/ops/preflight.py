"""Checks of local inputs before any Beam work: paths exist, CSV files are well-formed UTF-8.

CsvExampleGen reports a malformed row or a non-UTF-8 byte from deep inside a
Beam worker, without the file name. ``check_inputs`` reads the local inputs once
in Python first and raises an ``InputError`` with one line naming the file, the
line and what is wrong. Remote paths (``gs://`` and other URL schemes) are left
to the pipeline.

Example::

    check_inputs(cfg)   # raises InputError("data/a.csv line 7: 3 fields but the header has 4")
"""
from __future__ import annotations

import csv
import glob
import os
from typing import Iterator, List

from pipelines.config import PipelineConfig


class InputError(ValueError):
    """A local input path is missing or a CSV file is malformed; the message names it."""


def _is_local(path: str) -> bool:
    return "://" not in path


def input_files(cfg: PipelineConfig) -> List[str]:
    """The files ExampleGen will read: ``data_path/*`` or the ``input_splits`` globs."""
    patterns = list(cfg.input_splits.values()) if cfg.input_splits else ["*"]
    found = []
    for pattern in patterns:
        matches = sorted(p for p in glob.glob(os.path.join(cfg.data_path, pattern))
                         if os.path.isfile(p))
        if not matches:
            raise InputError(f"--data-path {cfg.data_path}: no input file matches {pattern!r}")
        found += matches
    return found


def _utf8_lines(path: str) -> Iterator[str]:
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InputError(
                    f"{path} line {lineno}: not UTF-8 text (byte {raw[e.start]:#04x} at column "
                    f"{e.start + 1}); re-encode the file as UTF-8") from None


def check_csv(path: str) -> None:
    """Raises InputError on a non-UTF-8 line or a row whose field count differs from the header."""
    reader = csv.reader(_utf8_lines(path))
    try:
        header = next(reader, None)
        for row in reader:
            if row and len(row) != len(header):
                raise InputError(f"{path} line {reader.line_num}: {len(row)} field(s) but the "
                                 f"header has {len(header)} ({','.join(header)})")
    except csv.Error as e:
        raise InputError(f"{path} line {reader.line_num}: malformed CSV: {e}") from None


def check_inputs(cfg: PipelineConfig) -> None:
    """Local paths exist and every local CSV input is well-formed (see the module docstring)."""
    for flag, path in (("--data-path", cfg.data_path), ("--schema-path", cfg.schema_path),
                       ("--dataset-config", cfg.dataset_config_path if cfg.dataset is None
                        else None)):
        if path and _is_local(path) and not os.path.exists(path):
            raise InputError(f"{flag} {path}: no such file or folder")
    if cfg.input_format == "csv" and _is_local(cfg.data_path):
        for path in input_files(cfg):
            check_csv(path)
