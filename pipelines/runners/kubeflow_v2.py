"""Compile the NIS pipeline for Kubeflow Pipelines v2 / Vertex AI Pipelines.

``KubeflowV2DagRunner`` turns the same ``create_pipeline`` into a PipelineJob
JSON that runs every component in the project image (``Dockerfile``). Nothing is
submitted or uploaded here; ``docs/pipeline.md`` shows how to submit the JSON.

Examples::

    make compile        # -> build/nis-pipeline.json with placeholder bucket and image
    python -m pipelines.runners.kubeflow_v2 --output-dir build \\
        --root gs://my-bucket/nis --image us-docker.pkg.dev/my-proj/nis/nis-tfx:0.1.0 \\
        --data-path gs://my-bucket/data/clicks --schema-path gs://my-bucket/data/schema.pbtxt \\
        --dataset-config my_dataset.json --budget 500000 \\
        --search-gpu NVIDIA_TESLA_T4:1 --trainer-gpu NVIDIA_TESLA_T4:1 \\
        --dataflow-project my-proj --dataflow-region us-central1

Per-step resources (``--search-gpu``, ``--trainer-gpu``, ``--search-cpu``, ...)
become KFP v2 ``ResourceSpec``s of the NeuralInputSearch and trainer steps;
Vertex AI Pipelines runs those steps on machines with the requested
accelerators. ``--dataflow-project`` moves the Beam steps (StatisticsGen,
Transform, Evaluator) to Dataflow.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any, Dict, List, Optional, Sequence

from pipelines import cli
from pipelines.config import PipelineConfig

DEFAULT_ROOT = "gs://YOUR_BUCKET/nis"
IMAGE_WORKDIR = "/pipeline"  # where the Dockerfile copies the repository
DEFAULT_SCHEMA = IMAGE_WORKDIR + "/schemas/synthetic_{task}/schema.pbtxt"
DEFAULT_OUTPUT_DIR = "build"


def resource_spec(resources: Optional[Dict[str, Any]]):
    """KFP v2 ResourceSpec from {"cpu_limit", "memory_limit" (GiB), "accelerator_type", "accelerator_count"}."""
    if not resources:
        return None
    from kfp.pipeline_spec import pipeline_spec_pb2  # pylint: disable=import-outside-toplevel
    spec = pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec()
    unknown = set(resources) - {"cpu_limit", "memory_limit", "accelerator_type", "accelerator_count"}
    if unknown:
        raise ValueError(f"unknown resource key(s) {sorted(unknown)}")
    if resources.get("cpu_limit"):
        spec.cpu_limit = float(resources["cpu_limit"])
    if resources.get("memory_limit"):
        spec.memory_limit = float(resources["memory_limit"])
    if resources.get("accelerator_type"):
        spec.accelerator.type = str(resources["accelerator_type"])
        spec.accelerator.count = int(resources.get("accelerator_count", 1))
    return spec


def dataflow_beam_args(project: str, region: str, root: str) -> List[str]:
    """Beam flags running the Beam steps on Dataflow; workers install this package from the
    image's ``setup.py`` (or pass ``--sdk_container_image`` of the Dockerfile's ``dataflow`` target)."""
    return ["--runner=DataflowRunner", f"--project={project}", f"--region={region}",
            f"--temp_location={root}/beam_tmp", f"--staging_location={root}/beam_staging",
            f"--setup_file={IMAGE_WORKDIR}/setup.py", "--disk_size_gb=50"]


def restrict_blessing_resolver(job: Dict[str, Any]) -> int:
    """Makes the compiled latest-blessed-model resolver read only ``BlessingGate`` blessings.

    TFX's Kubeflow V2 compiler turns ``LatestBlessedModelStrategy`` into a query on
    every blessed ``tfx.ModelBlessing``; the Evaluators' own blessings would match it
    too. The gate marks its blessing with ``FINAL_BLESSING_KEY``; this adds that
    property to the query. Returns the number of queries changed.
    """
    from components.gates.blessing import FINAL_BLESSING_KEY  # pylint: disable=import-outside-toplevel
    changed = 0
    for executor in job["pipelineSpec"]["deploymentSpec"]["executors"].values():
        for query in executor.get("resolver", {}).get("outputArtifactQueries", {}).values():
            if 'schema_title="tfx.ModelBlessing"' in query.get("filter", ""):
                query["filter"] += f" AND metadata.{FINAL_BLESSING_KEY}.number_value=1"
                changed += 1
    return changed


def compile_pipeline(cfg: PipelineConfig, output_dir: str,
                     output_filename: Optional[str] = None) -> str:
    """Writes the PipelineJob JSON; returns its path."""
    from tfx.orchestration.kubeflow.v2 import kubeflow_v2_dag_runner  # pylint: disable=import-outside-toplevel

    from pipelines import pipeline as nis_pipeline  # pylint: disable=import-outside-toplevel
    dsl_pipeline = nis_pipeline.create_pipeline(cfg)
    per_step = {nis_pipeline.SEARCH: cfg.search_resources,
                nis_pipeline.TRAINER: cfg.trainer_resources,
                nis_pipeline.BASELINE_TRAINER: cfg.trainer_resources}
    for component in dsl_pipeline.components:
        spec = resource_spec(per_step.get(component.id))
        if spec is not None:
            component.with_platform_config(spec)
    filename = output_filename or f"{cfg.pipeline_name}.json"
    runner = kubeflow_v2_dag_runner.KubeflowV2DagRunner(
        config=kubeflow_v2_dag_runner.KubeflowV2DagRunnerConfig(default_image=cfg.image),
        output_dir=output_dir, output_filename=filename)
    runner.run(dsl_pipeline)
    path = os.path.join(output_dir, filename)
    with open(path, encoding="utf-8") as f:
        job = json.load(f)
    if restrict_blessing_resolver(job):
        with open(path, "w", encoding="utf-8") as f:
            json.dump(job, f, indent=2, sort_keys=True)
    return path


def default_config(task: str = "ranking") -> PipelineConfig:
    """Placeholder cloud locations; dataset config and in-image schema of the synthetic data."""
    from pipelines.data import synthetic  # pylint: disable=import-outside-toplevel
    return PipelineConfig(
        task=task, output_dir=DEFAULT_ROOT, data_path=f"{DEFAULT_ROOT}/data",
        schema_path=DEFAULT_SCHEMA.format(task=task),
        dataset=synthetic.dataset_config(task).to_dict(),
        beam_pipeline_args=["--direct_running_mode=multi_processing", "--direct_num_workers=0"])


def _gpu(value: Optional[str], cpu: Optional[float], memory: Optional[float]) -> Optional[Dict]:
    if not (value or cpu or memory):
        return None
    res: Dict[str, Any] = {"cpu_limit": cpu, "memory_limit": memory}
    if value:
        kind, _, count = value.partition(":")
        res.update(accelerator_type=kind, accelerator_count=int(count or 1))
    return {k: v for k, v in res.items() if v}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    cli.add_cli_args(parser, exclude=("--output-dir",))
    parser.add_argument("--output-dir", default=DEFAULT_OUTPUT_DIR,
                        help="local folder for the compiled PipelineJob JSON")
    parser.add_argument("--output-filename", default=None, help="default <pipeline_name>.json")
    parser.add_argument("--root", default=None,
                        help=f"cloud root of artifacts and pushed models (default {DEFAULT_ROOT})")
    for step in ("search", "trainer"):
        parser.add_argument(f"--{step}-gpu", default=None, metavar="TYPE[:COUNT]",
                            help=f"accelerator of the {step} step, e.g. NVIDIA_TESLA_T4:1")
        parser.add_argument(f"--{step}-cpu", type=float, default=None, help="vCPU limit")
        parser.add_argument(f"--{step}-memory", type=float, default=None, help="memory limit (GiB)")
    parser.add_argument("--dataflow-project", default=None, help="run Beam steps on Dataflow")
    parser.add_argument("--dataflow-region", default="us-central1")
    return parser


def resolve(args: argparse.Namespace) -> PipelineConfig:
    base = default_config(args.task or "ranking")
    if args.dataset_config:
        base.dataset = None  # the given DatasetConfig JSON wins over the synthetic default
    d = cli.from_cli(args, base=base, exclude=("--output-dir",)).to_dict()
    if args.root:
        d["output_dir"] = args.root
        if args.data_path is None and not args.config:
            d["data_path"] = f"{args.root}/data"
    for step in ("search", "trainer"):
        res = _gpu(getattr(args, f"{step}_gpu"), getattr(args, f"{step}_cpu"),
                   getattr(args, f"{step}_memory"))
        if res:
            d[f"{step}_resources"] = res
    if args.dataflow_project:
        d["beam_pipeline_args"] = dataflow_beam_args(args.dataflow_project, args.dataflow_region,
                                                     d["output_dir"])
    return PipelineConfig.from_dict(d)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        cfg = resolve(args)
    except ValueError as e:  # a bad config value: one line, no traceback
        raise SystemExit(f"kubeflow_v2_runner: {e}") from None
    path = compile_pipeline(cfg, args.output_dir, args.output_filename)
    print(f"Compiled {cfg.pipeline_name!r} for Kubeflow V2 / Vertex AI: {path}\n"
          f"  image {cfg.image}\n  pipeline root {cfg.resolved_pipeline_root}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
