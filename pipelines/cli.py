"""Command-line flags of the runners: one flag per common ``PipelineConfig`` field.

``add_cli_args`` adds the flags to a runner's parser and ``from_cli`` builds the config
from ``--config`` (or a base config) with the given flags on top. Search options reach the
search through one value: ``--search KEY=VALUE``, ``--search-config FILE`` and a few
shorthand flags, applied in ``SEARCH_PRECEDENCE`` order.

Example::

    parser = argparse.ArgumentParser()
    add_cli_args(parser)
    cfg = from_cli(parser.parse_args(["--budget", "20000", "--search", "seed=3"]))
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List, Optional, Sequence, Tuple

from pipelines.config import PipelineConfig

_CLI_FIELDS = {
    # flag: (field, type, help)
    "--pipeline-name": ("pipeline_name", str, "pipeline name (MLMD context, folder name)"),
    "--data-path": ("data_path", str, "folder of CSV (or TFRecord) input files"),
    "--input-format": ("input_format", str, "csv | tfrecord"),
    "--schema-path": ("schema_path", str, "schema.pbtxt (omit with --infer-schema)"),
    "--dataset-config": ("dataset_config_path", str, "DatasetConfig JSON file"),
    "--task": ("task", str, "ranking | retrieval"),
    "--mode": ("mode", str, "ME (multi-size) | SE (single-size)"),
    "--budget": ("budget", int, "embedding budget in floats"),
    "--batch-size": ("train_batch_size", int, "search batch size"),
    "--max-epochs": ("max_epochs", int, "trainer epochs at most (early stopping on validation)"),
    "--patience": ("patience", int, "trainer epochs without a better validation metric before stopping"),
    "--steps-per-execution": ("steps_per_execution", int,
                              "trainer steps per compiled call (1; more for accelerators)"),
    "--train-steps": ("train_steps", int, "cap on a trainer's total steps (0 = none)"),
    "--serving-top-k": ("serving_top_k", int,
                        "retrieval: items the exported model returns per request (10)"),
    "--serving-history-feature": ("serving_history_feature", str,
                                  "retrieval: multi-valued feature whose items are never "
                                  "returned ('' = none; default: 'history' if present)"),
    "--eval-steps": ("eval_steps", int, "validation batches per epoch (0 = whole eval split)"),
    "--blessing-threshold": ("blessing_threshold", float, "min AUC / Recall@5 to push"),
    "--max-oov-label-share": ("max_oov_label_share", float,
                              "retrieval: max share of eval/test labels unseen in training"),
    "--serving-tolerance": ("serving_tolerance", float,
                            "max drop of the blessing metric vs the latest blessed model"),
    "--output-dir": ("output_dir", str, "root of artifacts, MLMD and pushed models"),
    "--pipeline-root": ("pipeline_root", str, "explicit pipeline root"),
    "--image": ("image", str, "container image (Kubeflow/Vertex)"),
}


# Shorthands of search options (the one ``search`` value): flag -> (option, type, help).
_SEARCH_FLAGS = {
    "--warmup-steps": ("warmup_steps", int, "search warm-up steps (= --search warmup_steps=N)"),
    "--search-steps": ("search_steps", int, "search (controller) steps (= --search search_steps=N)"),
    "--group-size": ("group_size", int, "ranking: examples per AUC reward (= --search group_size=N)"),
    "--num-negatives": ("num_negatives", int,
                        "retrieval: sampled negatives (= --search num_negatives=N)"),
    "--warm-start": ("warm_start", str, "off | on | auto: a re-run's search starts from the "
                                        "latest blessed model's MES and controller "
                                        "(= --search warm_start=MODE)"),
}
SEARCH_FLAGS_FIELDS = tuple(name for name, _, _ in _SEARCH_FLAGS.values())
SEARCH_PRECEDENCE = ("search options, later wins per option: the config's \"search\", "
                     "--search-config, --warmup-steps/--search-steps/--group-size/--num-negatives/"
                     "--warm-start, "
                     "--search KEY=VALUE")


def _search_option(text: str) -> Tuple[str, Any]:
    """``"seed=3"`` -> ``("seed", 3)``; the value is read as JSON, else kept as a string (argparse type)."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip():
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE (a SearchConfig option), got {text!r}")
    try:
        parsed = json.loads(value)
    except json.JSONDecodeError:
        parsed = {"true": True, "false": False}.get(value.strip().lower(), value.strip())
    return key.strip(), parsed


def _search_file(path: str) -> Dict[str, Any]:
    """The JSON object of a ``--search-config`` file (argparse type)."""
    try:
        with open(path, encoding="utf-8") as f:
            options = json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        raise argparse.ArgumentTypeError(f"cannot read search config {path}: {e}") from e
    if not isinstance(options, dict):
        raise argparse.ArgumentTypeError(f"search config {path} must hold a JSON object of "
                                         "SearchConfig options")
    return options


def _mapping(text: str) -> Dict[str, str]:
    """``"a=1,b=2"`` -> ``{"a": "1", "b": "2"}`` (argparse type)."""
    pairs = [p.split("=", 1) for p in text.split(",") if p.strip()]
    if not pairs or any(len(p) != 2 or not p[0].strip() for p in pairs):
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE[,NAME=VALUE...], got {text!r}")
    return {k.strip(): v.strip() for k, v in pairs}


def _widths(text: str) -> List[int]:
    """``"1,2,4"`` -> ``[1, 2, 4]`` (argparse type)."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts or not all(p.isdigit() and int(p) > 0 for p in parts):
        raise argparse.ArgumentTypeError(f"expected positive widths D[,D...], got {text!r}")
    return [int(p) for p in parts]


def _positive_int(flag: str, key: str, value: str) -> int:
    if not value.isdigit() or int(value) <= 0:
        raise ValueError(f"{flag}: {key}={value!r} must be a positive integer number of hash "
                         "buckets, e.g. train=7,eval=2,test=1")
    return int(value)


def add_cli_args(parser: argparse.ArgumentParser, exclude: Sequence[str] = ()) -> None:
    """Adds one flag per common config field (defaults None = keep the config's)."""
    parser.add_argument("--config", help="PipelineConfig JSON file; flags override it")
    for flag, (_, typ, help_text) in {**_CLI_FIELDS, **_SEARCH_FLAGS}.items():
        if flag not in exclude:
            parser.add_argument(flag, type=typ, default=None, help=help_text)
    parser.add_argument("--search-config", type=_search_file, default=None, metavar="FILE",
                        help="JSON object of SearchConfig options (e.g. {\"seed\": 3})")
    parser.add_argument("--search", type=_search_option, action="append", default=None,
                        metavar="KEY=VALUE", help="one SearchConfig option, repeatable "
                        f"(e.g. --search fill_budget=true); {SEARCH_PRECEDENCE}")
    parser.add_argument("--split-ratios", type=_mapping, default=None, metavar="NAME=N,...",
                        help="hash-bucket split of one input, e.g. train=7,eval=2,test=1")
    parser.add_argument("--input-splits", type=_mapping, default=None, metavar="NAME=GLOB,...",
                        help="pre-split input, e.g. train=train/*,eval=eval/*,test=test/*")
    parser.add_argument("--infer-schema", action="store_true",
                        help="infer the schema with SchemaGen instead of importing --schema-path")
    parser.add_argument("--no-baseline", action="store_true", help="skip the SE baseline trainer")
    parser.add_argument("--baseline-dims", type=_widths, default=None, metavar="D,D,...",
                        help="uniform widths the SE baseline tries at the same budget, the best "
                             "on validation kept (e.g. 1,2,4,8)")
    parser.add_argument("--no-cache", action="store_true", help="re-run every component")
    parser.add_argument("--beam-arg", action="append", default=None, metavar="FLAG",
                        help="Beam pipeline flag, repeatable (e.g. --beam-arg=--direct_num_workers=2); "
                             "replaces the default Beam flags")


def from_cli(args: argparse.Namespace, base: Optional[PipelineConfig] = None,
             exclude: Sequence[str] = ()) -> PipelineConfig:
    """Config from ``--config`` (or ``base``) with the given flags applied on top."""
    if getattr(args, "config", None):
        d = PipelineConfig.from_file(args.config).to_dict()
    else:
        d = (base or PipelineConfig()).to_dict()
    for flag, (name, _, _) in _CLI_FIELDS.items():
        if flag in exclude:
            continue
        value = getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None:
            d[name] = value
    d["search"] = _search_from_cli(args, d.get("search") or {}, exclude)
    if args.split_ratios:
        d["split_ratios"] = {k: _positive_int("--split-ratios", k, v)
                             for k, v in args.split_ratios.items()}
    if args.input_splits:
        d["input_splits"] = dict(args.input_splits)
    if args.infer_schema:
        d["schema_path"] = None
    if args.no_baseline:
        d["train_baseline"] = False
    if getattr(args, "baseline_dims", None):
        d["baseline_dims"] = list(args.baseline_dims)
    if args.no_cache:
        d["enable_cache"] = False
    if args.beam_arg:
        d["beam_pipeline_args"] = list(args.beam_arg)
    return PipelineConfig.from_dict(d)


def _search_from_cli(args: argparse.Namespace, search: Dict[str, Any],
                     exclude: Sequence[str] = ()) -> Dict[str, Any]:
    """``search`` with the command line's search options applied in ``SEARCH_PRECEDENCE`` order."""
    search = dict(search)
    search.update(getattr(args, "search_config", None) or {})
    for flag, (name, _, _) in _SEARCH_FLAGS.items():
        value = None if flag in exclude else getattr(args, flag[2:].replace("-", "_"), None)
        if value is not None:
            search[name] = value
    search.update(getattr(args, "search", None) or [])
    return search
