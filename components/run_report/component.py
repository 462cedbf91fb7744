"""RunReport: the verdict and MES report of a run as artifacts the Kubeflow / Vertex run UI renders.

Runs after the BlessingGate. The page opens with the run's verdict
(``components.run_report.verdict``): the candidate's metrics next to the SE
baseline's (``evaluation``, the Evaluator's) and the serving model's
(``serving_evaluation``, the ServingEvaluator's; none on a first run), the
blessing decision and its reason (``blessing``), the SE baseline's floats and
width (its ``ModelRun``) and pictures (``components.run_report.plots``: floats
per block width, the search's reward / cost / entropy curves, the metric bars),
embedded as PNG data URIs in both outputs. Below it, it renders
``components.neural_input_search.report``
for the run's MES and search results, adds what changed since the MES of the
latest blessed model (resolved from MLMD by ``LatestBlessedModelResolver``; its
model carries ``embedding_spec_uri``, see ``components.mes_trainer``) and links
the TensorBoard logs of the search (``<search_results>/logs``) and of both
trainers (their ``ModelRun``). The outputs are ``system.HTML`` and
``system.Markdown`` artifacts, which the KFP v2 UI and Vertex AI Pipelines show
on the run page; local runs find the same files under the pipeline root.

Usage::

    report = RunReport(embedding_spec=nis.outputs['embedding_spec'],
                       search_results=nis.outputs['search_results'],
                       model_run=trainer.outputs['model_run'],
                       baseline_model_run=baseline.outputs['model_run'],
                       previous_model=resolver.outputs['model'],
                       evaluation=evaluator.outputs['evaluation'],
                       serving_evaluation=serving_evaluator.outputs['evaluation'],
                       blessing=gate.outputs['blessing'], key_metric='auc')
"""
from typing import Dict, Optional, Tuple

from tfx import types
from tfx import v1 as tfx
from tfx.dsl.io import fileio

import system
from components import artifacts
from components.artifacts import MultiSizeEmbeddingSpec, SearchResults
from components.mes_trainer.executor import EMBEDDING_SPEC_URI_KEY
from components.neural_input_search import report
from components.run_report import verdict
from trainer_module.search.config import SearchResult
from trainer_module.spec.mes import ModelSpec


def previous_spec(previous_model: Optional[types.Artifact]) -> Optional[ModelSpec]:
    """The MES the previous blessed model was trained on, or None (first run, or a model
    trained before its trainer recorded ``embedding_spec_uri``)."""
    if previous_model is None or not previous_model.has_custom_property(EMBEDDING_SPEC_URI_KEY):
        return None
    uri = previous_model.get_string_custom_property(EMBEDDING_SPEC_URI_KEY)
    return artifacts.read_mes(uri) if fileio.exists(artifacts.mes_path(uri)) else None


def log_links(search_results: types.Artifact, model_run: Optional[types.Artifact],
              baseline_model_run: Optional[types.Artifact]) -> Dict[str, str]:
    """Label -> TensorBoard log directory of the search and the trainers."""
    links = {"search": artifacts.logs_dir(search_results)}
    if model_run is not None:
        links["NIS trainer"] = model_run.uri
    if baseline_model_run is not None:
        links["SE baseline trainer"] = baseline_model_run.uri
    return links


def render(embedding_spec: types.Artifact, search_results: types.Artifact,
           model_run: Optional[types.Artifact] = None,
           baseline_model_run: Optional[types.Artifact] = None,
           previous_model: Optional[types.Artifact] = None,
           evaluation: Optional[types.Artifact] = None,
           serving_evaluation: Optional[types.Artifact] = None,
           blessing: Optional[types.Artifact] = None,
           key_metric: str = "") -> Tuple[str, str]:
    """(markdown, html) of the run's page: the verdict, then the MES report."""
    spec = artifacts.read_mes(embedding_spec)
    result = SearchResult.from_json(fileio.open(
        f"{search_results.uri}/{artifacts.RESULT_FILE}").read())
    task = search_results.get_string_custom_property("task") or None
    run_verdict = verdict.read_verdict(spec, result.history or [], evaluation,
                                       serving_evaluation, blessing, baseline_model_run,
                                       key_metric)
    images = verdict.pictures(run_verdict)
    extra = dict(previous=previous_spec(previous_model),
                 links=log_links(search_results, model_run, baseline_model_run))
    markdown = (verdict.render_markdown(run_verdict, images) + "\n"
                + report.render_markdown(spec, result, task=task, **extra))
    html = report.html_page(verdict.render_html(run_verdict, images)
                            + report.render_html_body(spec, result, task=task, **extra),
                            title="NIS run report")
    return markdown, html


@tfx.dsl.components.component
def RunReport(  # pylint: disable=invalid-name
    embedding_spec: tfx.dsl.components.InputArtifact[MultiSizeEmbeddingSpec],
    search_results: tfx.dsl.components.InputArtifact[SearchResults],
    html_report: tfx.dsl.components.OutputArtifact[system.HTML],
    markdown_report: tfx.dsl.components.OutputArtifact[system.Markdown],
    model_run: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ModelRun] = None,
    baseline_model_run: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ModelRun] = None,
    previous_model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model] = None,
    evaluation: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ModelEvaluation] = None,
    serving_evaluation: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ModelEvaluation] = None,
    blessing: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.ModelBlessing] = None,
    key_metric: tfx.dsl.components.Parameter[str] = "",
) -> None:
    """Writes the run's verdict and MES report (changes, log links) as HTML and Markdown."""
    markdown, html = render(embedding_spec, search_results, model_run, baseline_model_run,
                            previous_model, evaluation, serving_evaluation, blessing, key_metric)
    system.write_text(html_report, html)
    system.write_text(markdown_report, markdown)
