"""Read a finished pipeline run back from MLMD: artifacts, lineage and the result table.

TFX records every execution in MLMD with three contexts: ``pipeline`` (the
pipeline name), ``pipeline_run`` (the run id, child of the pipeline context) and
``node`` (``<pipeline>.<component id>``). Cached executions of a later run are
recorded too, linked to the artifacts they reused, so "the outputs of run R" is
always answerable.

Usage::

    store = connect(cfg.metadata_path)
    run = latest_run(store, cfg.pipeline_name)
    outputs = run_outputs(store, run)          # {"Trainer": {"model": Artifact}, ...}
    print(format_summary(summarize(store, cfg.pipeline_name)))
"""
from __future__ import annotations

import collections
import dataclasses
import math
import os
from typing import Dict, List, Optional, Tuple

from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

from pipelines import pipeline as nis_pipeline

Artifact = metadata_store_pb2.Artifact
Execution = metadata_store_pb2.Execution
Event = metadata_store_pb2.Event


def connect(metadata_path: str) -> metadata_store.MetadataStore:
    """Read/write handle on the SQLite MLMD of a local run (must exist)."""
    if not os.path.exists(metadata_path):
        raise FileNotFoundError(f"no MLMD database at {metadata_path}")
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = metadata_path
    config.sqlite.connection_mode = metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE
    return metadata_store.MetadataStore(config)


def runs(store: metadata_store.MetadataStore, pipeline_name: str) -> List[metadata_store_pb2.Context]:
    """The ``pipeline_run`` contexts of ``pipeline_name``, oldest first."""
    pipeline_ctx = store.get_context_by_type_and_name("pipeline", pipeline_name)
    if pipeline_ctx is None:
        return []
    children = store.get_children_contexts_by_context(pipeline_ctx.id)
    return sorted((c for c in children if c.type == "pipeline_run"),
                  key=lambda c: (c.create_time_since_epoch, c.id))


def latest_run(store: metadata_store.MetadataStore,
               pipeline_name: str) -> Optional[metadata_store_pb2.Context]:
    found = runs(store, pipeline_name)
    return found[-1] if found else None


def node_id(store: metadata_store.MetadataStore, execution: Execution) -> str:
    """Component id of an execution (from its ``node`` context)."""
    for ctx in store.get_contexts_by_execution(execution.id):
        if ctx.type == "node":
            return ctx.name.split(".", 1)[-1]
    return ""


def run_executions(store: metadata_store.MetadataStore,
                   run: metadata_store_pb2.Context) -> Dict[str, Execution]:
    """Component id -> its (last) execution in ``run``."""
    result = {}
    for execution in sorted(store.get_executions_by_context(run.id), key=lambda e: e.id):
        result[node_id(store, execution)] = execution
    return result


def _event_key(event: Event) -> str:
    for step in event.path.steps:
        if step.HasField("key"):
            return step.key
    return ""


def execution_artifacts(store: metadata_store.MetadataStore, execution_id: int,
                        kind: int) -> Dict[str, List[Artifact]]:
    """Input (``Event.INPUT``) or output (``Event.OUTPUT``) artifacts by channel key."""
    events = [e for e in store.get_events_by_execution_ids([execution_id]) if e.type == kind]
    by_id = {a.id: a for a in store.get_artifacts_by_id([e.artifact_id for e in events])}
    result: Dict[str, List[Artifact]] = collections.defaultdict(list)
    for event in events:
        result[_event_key(event)].append(by_id[event.artifact_id])
    return dict(result)


def run_outputs(store: metadata_store.MetadataStore,
                run: metadata_store_pb2.Context) -> Dict[str, Dict[str, Artifact]]:
    """Component id -> output key -> artifact, for every execution of ``run``."""
    outputs = {}
    for nid, execution in run_executions(store, run).items():
        arts = execution_artifacts(store, execution.id, Event.OUTPUT)
        outputs[nid] = {key: items[-1] for key, items in arts.items() if items}
    return outputs


def producer(store: metadata_store.MetadataStore, artifact_id: int) -> Tuple[str, Execution]:
    """(component id, execution) that first produced ``artifact_id``."""
    events = [e for e in store.get_events_by_artifact_ids([artifact_id]) if e.type == Event.OUTPUT]
    if not events:
        raise LookupError(f"artifact {artifact_id} has no producing execution")
    execution = store.get_executions_by_id([min(e.execution_id for e in events)])[0]
    return node_id(store, execution), execution


def consumers(store: metadata_store.MetadataStore, artifact_id: int) -> List[str]:
    """Component ids of every execution that read ``artifact_id``."""
    events = [e for e in store.get_events_by_artifact_ids([artifact_id]) if e.type == Event.INPUT]
    executions = store.get_executions_by_id(sorted({e.execution_id for e in events}))
    return sorted({node_id(store, e) for e in executions})


# -- result table -----------------------------------------------------------
@dataclasses.dataclass
class RunSummary:
    """What the CLI prints after a run."""

    run_id: str
    states: Dict[str, str]
    locations: Dict[str, str]
    spec: Optional[object] = None           # trainer_module.spec.mes.ModelSpec
    metrics: Dict[str, Dict[str, float]] = dataclasses.field(default_factory=dict)
    blessed: Optional[bool] = None
    pushed_to: Optional[str] = None
    oov_label_share: Optional[float] = None   # retrieval: eval labels unseen in training


_STATE_NAMES = {v: k for k, v in Execution.State.items()}


def _custom(artifact: Artifact, key: str):
    if key not in artifact.custom_properties:
        return None
    value = artifact.custom_properties[key]
    return getattr(value, value.WhichOneof("value")) if value.WhichOneof("value") else None


def read_metrics(evaluation_uri: str) -> Dict[str, Dict[str, float]]:
    """Overall-slice metrics of a TFMA evaluation: model name -> metric name -> value."""
    from components.gates import blessing  # pylint: disable=import-outside-toplevel
    return blessing.read_metrics(evaluation_uri)


def find_run(store: metadata_store.MetadataStore, pipeline_name: str,
             run_id: Optional[str] = None) -> Optional[metadata_store_pb2.Context]:
    """The ``pipeline_run`` context named ``run_id``, or the latest run when ``run_id`` is None."""
    if run_id is None:
        return latest_run(store, pipeline_name)
    return next((r for r in runs(store, pipeline_name) if r.name == run_id), None)


def summarize(store: metadata_store.MetadataStore, pipeline_name: str,
              run_id: Optional[str] = None) -> RunSummary:
    """Locations, MES, metrics, blessing and push destination of run ``run_id``.

    ``run_id`` None reads the latest run; a runner reports the run it started by
    passing its id, so a later run of the same pipeline cannot take its place.
    """
    run = find_run(store, pipeline_name, run_id)
    if run is None:
        raise LookupError(f"no run {run_id or ''} of pipeline {pipeline_name!r} in MLMD")
    executions = run_executions(store, run)
    outputs = run_outputs(store, run)
    states = {nid: _STATE_NAMES.get(e.last_known_state, "?") for nid, e in executions.items()}
    want = {"MES": (nis_pipeline.SEARCH, "embedding_spec"),
            "search results": (nis_pipeline.SEARCH, "search_results"),
            "model": (nis_pipeline.TRAINER, "model"),
            "baseline model": (nis_pipeline.BASELINE_TRAINER, "model"),
            "evaluation": (nis_pipeline.EVALUATOR, "evaluation"),
            "serving evaluation": (nis_pipeline.SERVING_EVALUATOR, "evaluation"),
            "blessing": (nis_pipeline.BLESSING_GATE, "blessing"),
            "pushed model": (nis_pipeline.PUSHER, "pushed_model"),
            "run page": (nis_pipeline.RUN_REPORT, "html_report")}
    locations = {label: outputs[n][k].uri for label, (n, k) in want.items()
                 if k in outputs.get(n, {})}
    summary = RunSummary(run_id=run.name, states=states, locations=locations)
    if "MES" in locations:
        from components.artifacts import read_mes  # pylint: disable=import-outside-toplevel
        summary.spec = read_mes(locations["MES"])
    if "evaluation" in locations:
        summary.metrics = read_metrics(locations["evaluation"])
    if "blessing" in locations:
        blessed = _custom(outputs[nis_pipeline.BLESSING_GATE]["blessing"], "blessed")
        summary.blessed = None if blessed is None else bool(blessed)
    share = outputs.get(nis_pipeline.VOCABULARY_GATE, {}).get("oov_label_share")
    if share is not None and os.path.isfile(share.uri):
        with open(share.uri, encoding="utf-8") as f:
            summary.oov_label_share = float(f.read() or "nan")
    pushed = outputs.get(nis_pipeline.PUSHER, {}).get("pushed_model")
    if pushed is not None and _custom(pushed, "pushed"):
        summary.pushed_to = _custom(pushed, "pushed_destination")
    return summary


def _metric_text(value: Optional[float], undefined: bool = False) -> str:
    """Four decimals; "n/a" for a missing metric; "undefined" for one without meaning (NaN, or
    an AUC over labels of one class, which TFMA reports as 0): never "nan" or a made-up 0."""
    if undefined:
        return "undefined"
    return "n/a" if value is None or math.isnan(value) else f"{value:.4f}"


def format_summary(s: RunSummary, metadata_path: str = "") -> str:
    """The human-readable report: locations, MES table, metric table."""
    lines = [f"Run {s.run_id}: " + ", ".join(f"{n}={st}" for n, st in s.states.items())]
    for label, uri in s.locations.items():
        lines.append(f"  {label:<15} {uri}")
    if metadata_path:
        lines.append(f"  {'MLMD database':<15} {metadata_path}")
    if s.spec is not None:
        lines.append(f"\nBudget {s.spec.budget:,} floats, mode {s.spec.mode}: "
                     f"chosen MES costs {s.spec.cost():,} "
                     f"({100.0 * s.spec.cost() / s.spec.budget:.1f}% of budget; "
                     f"{s.spec.table_floats():,} in tables + {s.spec.projection_floats():,} in "
                     f"projections, {s.spec.accounting} accounting)")
        lines.append(f"  {'feature':<18} {'MES (vocab x dim)':<32} {'cost':>10}")
        for name, entries, cost in s.spec.summary_rows():
            lines.append(f"  {name:<18} {entries:<32} {cost:>10,}")
    if s.metrics:
        models = [m for m in ("candidate", "baseline") if m in s.metrics]
        names = sorted({n for m in models for n in s.metrics[m]})
        header = "".join(f"{'NIS (candidate)' if m == 'candidate' else 'SE baseline':>18}"
                         for m in models)
        lines.append(f"\n  {'metric':<22}{header}")
        from components.gates.blessing import undefined_metrics  # pylint: disable=import-outside-toplevel
        undefined = {m: undefined_metrics(s.metrics[m]) for m in models}
        for name in names:
            row = "".join(f"{_metric_text(s.metrics[m].get(name), name in undefined[m]):>18}"
                          for m in models)
            lines.append(f"  {name:<22}{row}")
    if s.oov_label_share:
        lines.append(f"\nLabels unseen in training: {100 * s.oov_label_share:.1f}% of the "
                     "evaluation examples (Recall@K does not score them)")
    if s.blessed is not None:
        lines.append(f"\nBlessed: {'yes' if s.blessed else 'no'}; "
                     + (f"pushed to {s.pushed_to}" if s.pushed_to else "not pushed"))
    return "\n".join(lines)


# -- changes since the previous run --------------------------------------------
@dataclasses.dataclass
class MesChanges:
    """A run's MES against the MES of the latest earlier run that searched anew."""

    run_id: str
    previous_run_id: str
    previous: object                        # trainer_module.spec.mes.ModelSpec
    current: object


def mes_changes(store: metadata_store.MetadataStore, pipeline_name: str,
                run_id: Optional[str] = None) -> Optional[MesChanges]:
    """The MES change of run ``run_id`` (default: the latest) since the previous run with a
    different MES; None without one.

    Runs served from the cache reuse the MES artifact, so they are skipped: the
    comparison is with the MES the pipeline emitted before the current one.
    """
    from components.artifacts import read_mes  # pylint: disable=import-outside-toplevel
    key = (nis_pipeline.SEARCH, "embedding_spec")
    found = []
    history = runs(store, pipeline_name)
    names = [r.name for r in history]
    if run_id is not None and run_id in names:
        history = history[:names.index(run_id) + 1]  # that run and the runs before it
    for run in reversed(history):
        mes = run_outputs(store, run).get(key[0], {}).get(key[1])
        if mes is not None and (not found or mes.id != found[0][1].id):
            found.append((run, mes))
        if len(found) == 2:
            (run, mes), (prev_run, prev) = found
            return MesChanges(run.name, prev_run.name, read_mes(prev.uri), read_mes(mes.uri))
    return None


def format_mes_changes(changes: Optional[MesChanges]) -> str:
    """Per-feature rows, widths and cost of the MES change; a first run says so."""
    from trainer_module.spec import diff as spec_diff  # pylint: disable=import-outside-toplevel
    if changes is None:
        return "Changes since the previous run: none to compare (first MES of this pipeline)."
    lines = [f"Changes since run {changes.previous_run_id}: "
             + spec_diff.summary(changes.previous, changes.current)]
    widths = (18, 26, 22, 30)
    lines.append("  " + "".join(f"{h:<{w}}" for h, w in zip(spec_diff.HEADERS, widths)))
    for change in spec_diff.spec_changes(changes.previous, changes.current):
        if change.changed:
            row = change.row()
            lines.append("  " + "".join(f"{c:<{w}}" for c, w in zip(row[:4], widths)))
    return "\n".join(lines)
