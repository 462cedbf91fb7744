"""Custom artifact types of the NIS suite and helpers that read and write them.

* ``MultiSizeEmbeddingSpec``: the searched MES. ``<uri>/mes.json`` holds
  ``ModelSpec.to_json()``; ``<uri>/report.md`` and ``<uri>/report.html`` a
  human-readable summary; ``<uri>/controller`` the final controller, from which
  the next scheduled run's search can warm-start (``trainer_module.search.warm_start``).
* ``SearchResults``: ``<uri>/history.json`` (per-step history),
  ``<uri>/probabilities.json`` (final controller distributions),
  ``<uri>/search_result.json`` (everything), ``<uri>/logs`` (TensorBoard) and
  ``<uri>/checkpoints`` (search checkpoints only when no pipeline root is known;
  normally they live under the pipeline root, see ``components.checkpoints``).

Two constraints of TFX's Kubeflow V2 (Vertex) path shape these classes:

* its compiler gives a custom type the generic ``tfx.Artifact`` schema, which
  has no properties, and rejects types that declare ``PROPERTIES``; so the
  facts (mode, budget, total_cost, ...) are MLMD *custom properties*, exposed
  read-only as Python attributes (``artifact.total_cost``);
* its runtime imports a custom type by its ``TYPE_NAME`` taken as a
  ``<module>.<Class>`` path (one dot), so ``TYPE_NAME`` is
  ``components.<Class>`` and ``components/__init__.py`` exposes the classes.

Example::

    write_mes(artifact, spec)       # mes.json + custom properties
    read_mes(artifact).cost() == artifact.total_cost
"""
from __future__ import annotations

import json
import os
from typing import Any, Optional, Sequence, Union

from tfx import types
from tfx.dsl.io import fileio

from trainer_module.spec.mes import ModelSpec, check_mes_budget, parse_mes  # noqa: F401 (re-exported)

# Channel of the MES: NeuralInputSearch's output and MesTrainer's input.
EMBEDDING_SPEC_KEY = "embedding_spec"
MES_FILE = "mes.json"
REPORT_MARKDOWN_FILE = "report.md"
REPORT_HTML_FILE = "report.html"
HISTORY_FILE = "history.json"
PROBABILITIES_FILE = "probabilities.json"
RESULT_FILE = "search_result.json"
LOGS_DIR = "logs"
CHECKPOINTS_DIR = "checkpoints"
CONTROLLER_DIR = "controller"

ArtifactOrUri = Union[types.Artifact, Sequence[types.Artifact], str]


def _custom_property(name: str, kind: str, doc: str) -> property:
    """A read-only attribute backed by an MLMD custom property (None when unset)."""

    def getter(self):
        if not self.has_custom_property(name):
            return None
        return (self.get_int_custom_property(name) if kind == "int"
                else self.get_float_custom_property(name) if kind == "float"
                else self.get_string_custom_property(name))

    return property(getter, doc=doc)


class MultiSizeEmbeddingSpec(types.Artifact):
    """A searched Multi-size Embedding Spec (``<uri>/mes.json``)."""

    TYPE_NAME = "components.MultiSizeEmbeddingSpec"

    mode = _custom_property("mode", "str", "'SE' or 'ME'.")
    budget = _custom_property("budget", "int", "Memory budget C in floats.")
    accounting = _custom_property("accounting", "str",
                                  "What the budget counts: 'exact' or 'paper_tables_only'.")
    total_cost = _custom_property("total_cost", "int", "Floats the budget counts (per accounting).")
    table_floats = _custom_property("table_floats", "int", "Floats in all embedding tables E_m.")
    projection_floats = _custom_property("projection_floats", "int",
                                         "Floats in all ME projections P_m.")
    total_bytes = _custom_property("total_bytes", "int", "total_cost at float32 (4 bytes).")
    num_features_kept = _custom_property("num_features_kept", "int", "Features with a non-empty MES.")
    num_features_removed = _custom_property("num_features_removed", "int", "Features removed.")


class SearchResults(types.Artifact):
    """History, final controller distributions and TensorBoard logs of one search."""

    TYPE_NAME = "components.SearchResults"

    task = _custom_property("task", "str", "'ranking' or 'retrieval'.")
    num_steps = _custom_property("num_steps", "int", "Steps recorded in the history.")
    final_mean_reward = _custom_property("final_mean_reward", "float", "Last logged mean reward.")


def artifact_uri(artifact_or_uri: ArtifactOrUri) -> str:
    """The URI of an artifact, of the single artifact of a list, or the string itself."""
    if isinstance(artifact_or_uri, str):
        return artifact_or_uri
    if isinstance(artifact_or_uri, types.Artifact):
        return artifact_or_uri.uri
    items = list(artifact_or_uri)
    if len(items) != 1:
        raise ValueError(f"expected exactly one artifact, got {len(items)}")
    return items[0].uri


def mes_path(artifact_or_uri: ArtifactOrUri) -> str:
    """Path of the MES JSON; a URI that already names a ``.json`` file is kept."""
    uri = artifact_uri(artifact_or_uri)
    return uri if uri.endswith(".json") else os.path.join(uri, MES_FILE)


def _write_text(path: str, text: str) -> None:
    fileio.makedirs(os.path.dirname(path))
    with fileio.open(path, "w") as f:
        f.write(text)


def write_mes(artifact: types.Artifact, spec: ModelSpec) -> str:
    """Writes ``<uri>/mes.json`` and sets the artifact's custom properties; returns the path."""
    if not spec.within_budget():
        raise ValueError(f"refusing to write an MES over budget: cost {spec.cost()} > "
                         f"budget {spec.budget} ({spec.accounting} accounting)")
    path = mes_path(artifact.uri)
    _write_text(path, spec.to_json())
    artifact.set_string_custom_property("mode", spec.mode)
    artifact.set_int_custom_property("budget", int(spec.budget))
    facts = spec.cost_facts()
    artifact.set_string_custom_property("accounting", spec.accounting)
    artifact.set_int_custom_property("total_cost", int(spec.cost()))
    artifact.set_int_custom_property("table_floats", int(facts["table_floats"]))
    artifact.set_int_custom_property("projection_floats", int(facts["projection_floats"]))
    artifact.set_int_custom_property("total_bytes", int(facts["bytes"]))
    # Per feature: table / projection / total floats and bytes (JSON; mes.json has the same).
    artifact.set_string_custom_property("feature_costs", json.dumps(facts["features"], sort_keys=True))
    artifact.set_int_custom_property("num_features_kept", len(spec.kept_features))
    artifact.set_int_custom_property("num_features_removed", len(spec.removed_features))
    return path


def read_mes(artifact_or_uri: ArtifactOrUri, budget: Optional[int] = None) -> ModelSpec:
    """The ModelSpec stored by ``write_mes`` (artifact, one-artifact list, dir or file path).

    Refuses (ValueError naming the file) an unreadable JSON, an MES over its own
    budget, and one whose budget differs from ``budget`` (what the pipeline
    config asked for) or from the ``budget`` custom property the search recorded
    on the artifact: an edited ``mes.json`` must not train a larger model.
    """
    path = mes_path(artifact_or_uri)
    if not fileio.exists(path):
        raise FileNotFoundError(f"no MES JSON at {path}")
    with fileio.open(path, "r") as f:
        spec = parse_mes(f.read(), path)
    recorded = _recorded_budget(artifact_or_uri)
    check_mes_budget(spec, path, budget, "the pipeline config")
    check_mes_budget(spec, path, recorded, "the search (artifact property)")
    return spec


def _recorded_budget(artifact_or_uri: ArtifactOrUri) -> Optional[int]:
    if isinstance(artifact_or_uri, str):
        return None
    items = [artifact_or_uri] if isinstance(artifact_or_uri, types.Artifact) else list(artifact_or_uri)
    artifact = items[0]
    return (artifact.get_int_custom_property("budget")
            if artifact.has_custom_property("budget") else None)


def write_report(artifact: types.Artifact, markdown: str, html: str) -> None:
    """Writes ``report.md`` and ``report.html`` next to the MES."""
    _write_text(os.path.join(artifact.uri, REPORT_MARKDOWN_FILE), markdown)
    _write_text(os.path.join(artifact.uri, REPORT_HTML_FILE), html)


def write_search_results(artifact: types.Artifact, result: Any, task: str) -> None:
    """Writes a ``SearchResult``'s history, probabilities and full JSON; sets custom properties."""
    history = list(getattr(result, "history", []) or [])
    probabilities = dict(getattr(result, "probabilities", {}) or {})
    _write_text(os.path.join(artifact.uri, HISTORY_FILE), json.dumps(history, indent=1, default=float))
    _write_text(os.path.join(artifact.uri, PROBABILITIES_FILE),
                json.dumps(probabilities, indent=1, default=float))
    _write_text(os.path.join(artifact.uri, RESULT_FILE), result.to_json())
    artifact.set_string_custom_property("task", task)
    artifact.set_int_custom_property("num_steps", int(history[-1].get("step", len(history)))
                                     if history else 0)
    rewards = [h["mean_reward"] for h in history if h.get("mean_reward") is not None]
    if rewards:
        artifact.set_float_custom_property("final_mean_reward", float(rewards[-1]))


def read_json(artifact_or_uri: ArtifactOrUri, filename: str) -> Any:
    """Loads one JSON file of an artifact (e.g. ``read_json(results, HISTORY_FILE)``)."""
    with fileio.open(os.path.join(artifact_uri(artifact_or_uri), filename), "r") as f:
        return json.loads(f.read())


def logs_dir(artifact_or_uri: ArtifactOrUri) -> str:
    return os.path.join(artifact_uri(artifact_or_uri), LOGS_DIR)


def controller_dir(artifact_or_uri: ArtifactOrUri) -> str:
    """Where an MES artifact keeps the controller that produced it (warm start)."""
    return os.path.join(artifact_uri(artifact_or_uri), CONTROLLER_DIR)


def checkpoints_dir(artifact_or_uri: ArtifactOrUri) -> str:
    return os.path.join(artifact_uri(artifact_or_uri), CHECKPOINTS_DIR)
