"""Run the NIS pipeline locally: LocalDagRunner, SQLite MLMD, Beam DirectRunner.

After the run it reads MLMD and prints where the MES, the model, the evaluation
and the MLMD database are, and a result table (budget, chosen MES per feature,
final metric of the NIS model vs the SE baseline).

Examples::

    # the embedded synthetic dataset, end to end (what `make demo` runs)
    python -m pipelines.local_runner --demo --output-dir demo_output

    # bring your own CSV folder + schema + DatasetConfig JSON
    nis-pipeline --data-path data/ --schema-path schemas/my/schema.pbtxt \\
        --dataset-config my_dataset.json --task ranking --budget 200000 \\
        --output-dir runs/ --beam-arg=--direct_running_mode=multi_processing \\
        --beam-arg=--direct_num_workers=4

Beam runs on the DirectRunner; pass ``--beam-arg`` flags (repeatable) to pick
``--direct_running_mode`` (in_memory, multi_threading, multi_processing) and
``--direct_num_workers`` (0 = one per CPU).
"""
from __future__ import annotations

import argparse
import filecmp
import logging
import os
import re
import shutil
import sys
import time
import warnings
from typing import Optional, Sequence

from pipelines import config as config_lib

_PROGRESS = re.compile(r"^Component \S+ is (running|finished)\.$")
PROGRESS_PREFIX = "Progress: "  # trainer_module.search_progress.PROGRESS_PREFIX (TF-free import)
DEMO_EXAMPLES = 20_000
DEMO_OVERRIDES = dict(pipeline_name="nis-demo", budget=30_000, warmup_steps=300, search_steps=900,
                      group_size=50, num_negatives=500, train_batch_size=128, train_steps=600,
                      eval_steps=50, blessing_threshold=0.5)


def make_demo_config(output_dir: str, task: str = "ranking", num_examples: int = DEMO_EXAMPLES,
                     seed: int = 0, **overrides) -> config_lib.PipelineConfig:
    """Generates the embedded synthetic dataset under ``output_dir/data`` and a config for it."""
    from pipelines.data import synthetic  # pylint: disable=import-outside-toplevel
    data_dir = os.path.join(output_dir, "data", task)
    fresh_dir = data_dir + ".new"
    csv_path, schema_path, dataset = synthetic.generate(task, num_examples, seed, fresh_dir)
    _replace_if_changed(fresh_dir, data_dir)
    csv_path = os.path.join(data_dir, os.path.relpath(csv_path, fresh_dir))
    schema_path = os.path.join(data_dir, os.path.relpath(schema_path, fresh_dir))
    fields = dict(DEMO_OVERRIDES, task=task, output_dir=output_dir,
                  data_path=os.path.dirname(csv_path), schema_path=schema_path,
                  dataset=dataset.to_dict())
    fields.update(overrides)
    return config_lib.PipelineConfig(**fields)


def _replace_if_changed(fresh_dir: str, data_dir: str) -> None:
    """Moves ``fresh_dir`` to ``data_dir`` unless the files there are byte-identical.

    Keeping identical files keeps their mtimes, so ExampleGen's input fingerprint
    and hence the whole run is served from the cache on a repeated ``--demo``.
    """
    def listing(root: str) -> dict:
        return {os.path.relpath(os.path.join(d, n), root): os.path.join(d, n)
                for d, _, names in os.walk(root) for n in names}

    old, new = listing(data_dir), listing(fresh_dir)
    same = old.keys() == new.keys() and all(filecmp.cmp(old[k], new[k], shallow=False) for k in new)
    if not same:
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.move(fresh_dir, data_dir)
    shutil.rmtree(fresh_dir, ignore_errors=True)


def metadata_connection_config(cfg: config_lib.PipelineConfig):
    from tfx import v1 as tfx  # pylint: disable=import-outside-toplevel
    os.makedirs(os.path.dirname(os.path.abspath(cfg.metadata_path)), exist_ok=True)
    return tfx.orchestration.metadata.sqlite_metadata_connection_config(cfg.metadata_path)


def run(cfg: config_lib.PipelineConfig) -> None:
    """Runs the whole pipeline with LocalDagRunner; raises if a component fails."""
    from tfx import v1 as tfx  # pylint: disable=import-outside-toplevel

    from pipelines.pipeline import create_pipeline  # pylint: disable=import-outside-toplevel
    tfx.orchestration.LocalDagRunner().run(
        create_pipeline(cfg, metadata_connection_config=metadata_connection_config(cfg)))


def report(cfg: config_lib.PipelineConfig) -> str:
    """The locations + result table of the latest run, read from MLMD."""
    from pipelines import results  # pylint: disable=import-outside-toplevel
    store = results.connect(cfg.metadata_path)
    return (results.format_summary(results.summarize(store, cfg.pipeline_name),
                                   metadata_path=cfg.metadata_path)
            + "\n\n" + results.format_mes_changes(results.mes_changes(store, cfg.pipeline_name)))


def _progress_only_logging(start: float) -> None:
    """Quiet logs: one line per component start/finish, progress of long steps, errors."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("PYTHONWARNINGS", "ignore")  # also quiets Beam worker processes
    warnings.filterwarnings("ignore")
    from absl import logging as absl_logging  # pylint: disable=import-outside-toplevel

    absl_logging.set_verbosity(absl_logging.INFO)
    logging.getLogger("absl").addFilter(ProgressFilter(start))
    for name in ("tensorflow", "apache_beam"):
        logging.getLogger(name).setLevel(logging.ERROR)


class ProgressFilter(logging.Filter):
    """Prints component start/finish and long steps' progress lines; passes only errors on."""

    def __init__(self, start: float):
        super().__init__()
        self.start = start

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno >= logging.ERROR:
            return True
        message = record.getMessage()
        if _PROGRESS.match(message):
            print(f"  [{time.time() - self.start:5.0f}s] {message}", flush=True)
        elif message.startswith(PROGRESS_PREFIX):  # long steps: search steps, trainer epochs
            print(f"  [{time.time() - self.start:5.0f}s]   {message[len(PROGRESS_PREFIX):]}",
                  flush=True)
        return False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nis-pipeline", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Without --demo, --data-path, --schema-path (or --infer-schema) and "
               "--dataset-config are needed. Flags override --config.")
    config_lib.add_cli_args(parser)
    parser.add_argument("--demo", action="store_true",
                        help="generate the embedded synthetic dataset first and run on it")
    parser.add_argument("--demo-examples", type=int, default=DEMO_EXAMPLES,
                        help="rows of the synthetic dataset (--demo)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic data seed (--demo)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config as JSON and exit")
    parser.add_argument("--verbose", action="store_true", help="INFO-level TFX/Beam logs")
    return parser


def _resolve(args: argparse.Namespace) -> config_lib.PipelineConfig:
    if args.demo:
        out = args.output_dir or "demo_output"
        task = args.task or "ranking"
        base = make_demo_config(out, task=task, num_examples=args.demo_examples, seed=args.seed)
        return config_lib.from_cli(args, base=base)
    cfg = config_lib.from_cli(args)
    missing = [flag for flag, value in (("--data-path", args.data_path or args.config),
                                        ("--dataset-config", cfg.dataset or cfg.dataset_config_path))
               if not value]
    if missing:
        raise SystemExit(f"nis-pipeline: missing {', '.join(missing)} (or use --demo)")
    if not cfg.schema_path and not args.infer_schema:
        raise SystemExit("nis-pipeline: give --schema-path, or --infer-schema to infer it")
    return cfg


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point ``nis-pipeline``; returns the process exit status."""
    args = _parser().parse_args(argv)
    cfg = _resolve(args)
    if args.print_config:
        print(cfg.to_json())
        return 0
    start = time.time()
    if not args.verbose:
        _progress_only_logging(start)
    print(f"Running pipeline {cfg.pipeline_name!r} (task {cfg.task}, mode {cfg.mode}, "
          f"budget {cfg.budget:,}) with root {cfg.resolved_pipeline_root}", flush=True)
    try:
        run(cfg)
    except Exception as e:  # pylint: disable=broad-except
        print(f"\nPipeline run FAILED after {time.time() - start:.0f}s: "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        print(f"Earlier runs are intact; MLMD: {cfg.metadata_path}", file=sys.stderr)
        return 1
    print(f"\nPipeline finished in {time.time() - start:.0f}s.\n", flush=True)
    print(report(cfg))
    return 0


if __name__ == "__main__":
    sys.exit(main())
