"""Run the NIS pipeline locally: LocalDagRunner, SQLite MLMD, Beam DirectRunner.

After the run it reads MLMD and prints where the MES, the model, the evaluation
and the MLMD database are, and a result table (budget, chosen MES per feature,
final metric of the NIS model vs the SE baseline).

Examples::

    # the embedded synthetic dataset, end to end (what `make demo` runs)
    python -m pipelines.runners.local --demo --output-dir demo_output

    # bring your own CSV folder + schema + DatasetConfig JSON
    nis-pipeline --data-path data/ --schema-path schemas/my/schema.pbtxt \\
        --dataset-config my_dataset.json --task ranking --budget 200000 \\
        --output-dir runs/ --beam-arg=--direct_running_mode=multi_processing \\
        --beam-arg=--direct_num_workers=4

Without ``--verbose`` the terminal shows the suite's own lines (components, search and epoch
progress, errors, the summary) and the rest goes to the run's log file under
``<output-dir>/logs/`` (``pipelines.runners.console``).

Beam runs on the DirectRunner; pass ``--beam-arg`` flags (repeatable) to pick
``--direct_running_mode`` (in_memory, multi_threading, multi_processing) and
``--direct_num_workers`` (0 = one per CPU).
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import sys
import time
from typing import List, Optional, Sequence

from pipelines.runners import console

# Importing the config imports TensorFlow, whose start-up lines (C++ "Unable to register ...
# factory", third-party FutureWarnings) are held here and go to the run's log file (or to
# stderr under --verbose).
with console.captured_stderr() as _STARTUP:
    from pipelines import cli
    from pipelines.config import PipelineConfig
    from pipelines.data import demo as demo_data
    from pipelines.ops import preflight
    from pipelines.ops import run_lock

_PROGRESS = re.compile(r"^Component \S+ is (running|finished)\.$")
PROGRESS_PREFIX = "Progress: "  # trainer_module.model.progress.PROGRESS_PREFIX (TF-free import)
DEMO_EXAMPLES = 20_000
DEMO_OVERRIDES = dict(pipeline_name="nis-demo", budget=30_000, train_batch_size=128,
                      search=dict(warmup_steps=300, search_steps=900, group_size=50,
                                  num_negatives=500),
                      train_steps=600, eval_steps=50, blessing_threshold=0.5)


def make_demo_config(output_dir: str, task: str = "ranking", num_examples: int = DEMO_EXAMPLES,
                     seed: int = 0, write: bool = True, **overrides) -> PipelineConfig:
    """A config for the embedded synthetic dataset under ``output_dir/data``.

    With ``write`` the data is generated first (``demo_data.write_demo_data``:
    refuses to replace files it did not write); without, nothing is written.
    """
    _, data_path, schema_path, dataset = demo_data.demo_paths(output_dir, task)
    if write:
        demo_data.write_demo_data(output_dir, task, num_examples, seed)
    fields = dict(DEMO_OVERRIDES, task=task, output_dir=output_dir, data_path=data_path,
                  schema_path=schema_path, dataset=dataset.to_dict())
    fields.update(overrides)
    return PipelineConfig(**fields)


def metadata_connection_config(cfg: PipelineConfig):
    from tfx import v1 as tfx  # pylint: disable=import-outside-toplevel
    os.makedirs(os.path.dirname(os.path.abspath(cfg.metadata_path)), exist_ok=True)
    return tfx.orchestration.metadata.sqlite_metadata_connection_config(cfg.metadata_path)


def _run_ids(cfg: PipelineConfig) -> List[str]:
    from pipelines.ops import results  # pylint: disable=import-outside-toplevel
    if not os.path.exists(cfg.metadata_path):
        return []
    return [c.name for c in results.runs(results.connect(cfg.metadata_path), cfg.pipeline_name)]


def run(cfg: PipelineConfig) -> Optional[str]:
    """Runs the whole pipeline with LocalDagRunner; returns its run id; raises if a component fails.

    The run holds ``run_lock`` on its pipeline root, so a second run on the same
    root fails at once (``RunLockedError``) and the run recorded in MLMD while
    the lock is held is this one.
    """
    from pipelines.pipeline import create_pipeline  # pylint: disable=import-outside-toplevel
    with run_lock.run_lock(cfg.resolved_pipeline_root):
        before = set(_run_ids(cfg))
        run_pipeline(create_pipeline(cfg, metadata_connection_config=metadata_connection_config(cfg)),
                     cfg.metadata_path)
        new = [r for r in _run_ids(cfg) if r not in before]
    return new[-1] if new else None


def run_pipeline(pipeline, metadata_path: str) -> None:
    """LocalDagRunner on ``pipeline``, holding the pipeline root's run lock if it is free.

    Executions an earlier, killed run left RUNNING are marked FAILED first
    (``pipelines.ops.stale_executions``), so MLMD shows the kill; the re-run then
    resumes their work from the stable checkpoints (``components.checkpoints``).
    """
    from tfx import v1 as tfx  # pylint: disable=import-outside-toplevel

    from pipelines.ops import results
    from pipelines.ops import stale_executions  # pylint: disable=import-outside-toplevel
    root = pipeline.pipeline_info.pipeline_root
    with run_lock.try_run_lock(root) as alone:
        if os.path.exists(metadata_path):
            marked = stale_executions.settle(results.connect(metadata_path),
                                             pipeline.pipeline_info.pipeline_name, root, alone)
            if marked:
                print(f"Marked execution(s) {marked} FAILED: an earlier run was killed while they "
                      "ran; their work resumes from checkpoints where it has them", file=sys.stderr,
                      flush=True)
        tfx.orchestration.LocalDagRunner().run(pipeline)


def report(cfg: PipelineConfig, run_id: Optional[str] = None) -> str:
    """The locations + result table of run ``run_id`` (default: the latest), read from MLMD."""
    from pipelines.ops import results  # pylint: disable=import-outside-toplevel
    store = results.connect(cfg.metadata_path)
    summary = results.summarize(store, cfg.pipeline_name, run_id=run_id)
    return (results.format_summary(summary, metadata_path=cfg.metadata_path) + "\n\n"
            + results.format_mes_changes(results.mes_changes(store, cfg.pipeline_name,
                                                             run_id=summary.run_id)))


class ProgressFilter(logging.Filter):
    """Prints component start/finish and long steps' progress lines with the elapsed time;
    passes only errors on."""

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


def _quiet_run(cfg: PipelineConfig, start: float) -> console.QuietRun:
    """Terminal: the run's start, component/progress lines, errors and the summary; the run's
    log file: the rest (TensorFlow start-up lines, TFX/Beam logs, warnings, Keras' epoch lines)."""
    from absl import logging as absl_logging  # pylint: disable=import-outside-toplevel

    absl_logging.set_verbosity(absl_logging.INFO)
    return console.QuietRun(console.log_path(cfg.output_dir, cfg.pipeline_name, start),
                            _STARTUP.text, ProgressFilter(start))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nis-pipeline", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Without --demo, --data-path, --schema-path (or --infer-schema) and "
               "--dataset-config are needed. Flags override --config.")
    cli.add_cli_args(parser)
    parser.add_argument("--demo", action="store_true",
                        help="generate the embedded synthetic dataset first and run on it")
    parser.add_argument("--demo-examples", type=int, default=DEMO_EXAMPLES,
                        help="rows of the synthetic dataset (--demo)")
    parser.add_argument("--seed", type=int, default=0, help="synthetic data seed (--demo)")
    parser.add_argument("--print-config", action="store_true",
                        help="print the resolved config as JSON and exit")
    parser.add_argument("--verbose", action="store_true",
                        help="print INFO logs and TensorFlow/TFX/Beam output here (default: the "
                             "suite's progress lines, errors and summary; the rest goes to "
                             "<output-dir>/logs/)")
    return parser


def _resolve(args: argparse.Namespace) -> PipelineConfig:
    """The validated config; writes nothing (the demo data is written by ``main``)."""
    if args.demo:
        out = args.output_dir or "demo_output"
        task = args.task or "ranking"
        base = make_demo_config(out, task=task, write=False)
        cfg = cli.from_cli(args, base=base)
        cfg.load_dataset()
        return cfg
    cfg = cli.from_cli(args)
    missing = [flag for flag, value in (("--data-path", args.data_path or args.config),
                                        ("--dataset-config", cfg.dataset or cfg.dataset_config_path))
               if not value]
    if missing:
        raise SystemExit(f"nis-pipeline: missing {', '.join(missing)} (or use --demo)")
    if not cfg.schema_path and not args.infer_schema:
        raise SystemExit("nis-pipeline: give --schema-path, or --infer-schema to infer it")
    cfg.load_dataset()
    return cfg


def _prepare(args: argparse.Namespace) -> PipelineConfig:
    """Config, demo data and input checks: everything that runs before the pipeline."""
    cfg = _resolve(args)
    if args.print_config:
        return cfg
    if args.demo:
        demo_data.write_demo_data(cfg.output_dir, cfg.resolved_task, args.demo_examples, args.seed)
    for note in preflight.check_inputs(cfg):  # e.g. rows truncated to max_len
        print(note, flush=True)
    return cfg


def _verbose_logging() -> None:
    """INFO-level absl logs (TFX's "Component X is running" lines and more), and the
    start-up lines of the imports."""
    from absl import logging as absl_logging  # pylint: disable=import-outside-toplevel
    sys.stderr.write(_STARTUP.text)
    absl_logging.use_absl_handler()  # to stderr even when no absl app set logging up
    absl_logging.set_verbosity(absl_logging.INFO)


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Console entry point ``nis-pipeline``; returns the process exit status.

    Configuration and input errors print one line (``nis-pipeline: error: ...``)
    and return 2 before anything is written or run.
    """
    args = _parser().parse_args(argv)
    try:
        cfg = _prepare(args)
    except (ValueError, TypeError) as e:
        print(f"nis-pipeline: error: {e}", file=sys.stderr)
        return 2
    if args.print_config:
        print(cfg.to_json())
        return 0
    start = time.time()
    print(f"Running pipeline {cfg.pipeline_name!r} (task {cfg.resolved_task}, mode {cfg.mode}, "
          f"budget {cfg.budget:,}) with root {cfg.resolved_pipeline_root}", flush=True)
    if args.verbose:
        _verbose_logging()
        return _run_and_report(cfg, start)
    quiet = _quiet_run(cfg, start)
    print(f"  log (TensorFlow, TFX, Beam; --verbose prints it here): {quiet.path}", flush=True)
    with quiet:
        rc = _run_and_report(cfg, start)
    if rc:
        print(f"The run's full log: {quiet.path}", file=sys.stderr)
    return rc


def _run_and_report(cfg: PipelineConfig, start: float) -> int:
    """Runs the pipeline and prints the summary; returns the exit status (errors: one line)."""
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        run_id = run(cfg)
    except run_lock.RunLockedError as e:
        print(f"nis-pipeline: error: {e}", file=sys.stderr)
        return 3
    except Terminated as e:
        print(f"\nPipeline run stopped after {time.time() - start:.0f}s: {e}", file=sys.stderr)
        print(f"The running step is marked failed in MLMD ({cfg.metadata_path}); run the same "
              f"command again to resume.", file=sys.stderr)
        return 143
    except Exception as e:  # pylint: disable=broad-except
        if "stopped by SIGTERM" in str(e):  # the search's own checkpointed stop
            print(f"\nPipeline run stopped after {time.time() - start:.0f}s: {e}", file=sys.stderr)
            return 143
        print(f"\nPipeline run FAILED after {time.time() - start:.0f}s: "
              f"{type(e).__name__}: {e}", file=sys.stderr)
        print(f"Earlier runs are intact; MLMD: {cfg.metadata_path}", file=sys.stderr)
        return 1
    finally:
        signal.signal(signal.SIGTERM, previous)
    print(f"\nPipeline finished in {time.time() - start:.0f}s.\n", flush=True)
    print(report(cfg, run_id))
    return 0


class Terminated(Exception):
    """SIGTERM (preemption notice) outside the search: the step is failed, not left running."""


def _terminate(signum, frame) -> None:  # noqa: ARG001 - the signal API's arguments
    # An Exception (not SystemExit): TFX's launcher then marks the execution failed in MLMD.
    raise Terminated(f"stopped by {signal.Signals(signum).name}")


if __name__ == "__main__":
    sys.exit(main())
