"""BlessingGate: one blessing from the two comparisons a scheduled run makes.

A run's candidate is compared twice: by ``Evaluator`` with the same-run SE
baseline, and by ``ServingEvaluator`` with the latest blessed model of the
pipeline (what serves; TFX's ``LatestBlessedModelStrategy`` resolves it, and on
the first run, with nothing resolved, TFMA ignores the change threshold). TFX's
Evaluator takes one baseline and Pusher one blessing, so this python-function
component blesses the candidate only when every wired comparison blessed it.

Its ``blessing`` is the one the Pusher checks and the one the resolver reads
back on the next run: it carries ``current_model`` / ``current_model_id`` like
an Evaluator's, plus ``FINAL_BLESSING_KEY`` so the Kubeflow V2 resolver query
(which filters ModelBlessings by properties only) can tell it from the
Evaluators' own blessings (see ``pipelines.runners.kubeflow_v2``).

Usage::

    gate = BlessingGate(model=trainer.outputs['model'],
                        baseline_blessing=evaluator.outputs['blessing'],
                        serving_blessing=serving_evaluator.outputs['blessing'])
    pusher = Pusher(model=..., model_blessing=gate.outputs['blessing'], ...)
"""
import os
from typing import Optional

from tfx import types
from tfx import v1 as tfx
from tfx.dsl.io import fileio

BLESSED_KEY = "blessed"
FINAL_BLESSING_KEY = "nis_final_blessing"
REASON_KEY = "blessing_reason"


def is_blessed(blessing: Optional[types.Artifact]) -> bool:
    """True when ``blessing`` carries ``blessed == 1``."""
    return (blessing is not None and blessing.has_custom_property(BLESSED_KEY)
            and blessing.get_int_custom_property(BLESSED_KEY) == 1)


def verdict(baseline_blessing: Optional[types.Artifact],
            serving_blessing: Optional[types.Artifact]) -> str:
    """"" when every wired comparison blessed the candidate, else the reason it did not."""
    reasons = [f"{name} comparison did not bless it" for name, b in
               (("Evaluator (threshold, same-run SE baseline)", baseline_blessing),
                ("ServingEvaluator (latest blessed model)", serving_blessing))
               if b is not None and not is_blessed(b)]
    return "; ".join(reasons)


def write_blessing(model: types.Artifact, blessing: types.Artifact,
                   baseline_blessing: Optional[types.Artifact],
                   serving_blessing: Optional[types.Artifact]) -> bool:
    """Writes ``blessing`` (file + custom properties) for ``model``; returns whether blessed."""
    reason = verdict(baseline_blessing, serving_blessing)
    fileio.makedirs(blessing.uri)
    with fileio.open(os.path.join(blessing.uri, "NOT_BLESSED" if reason else "BLESSED"), "w") as f:
        f.write(reason)
    blessing.set_int_custom_property(BLESSED_KEY, 0 if reason else 1)
    blessing.set_int_custom_property(FINAL_BLESSING_KEY, 1)
    blessing.set_string_custom_property(REASON_KEY, reason or "every comparison blessed it")
    blessing.set_string_custom_property("current_model", model.uri)
    blessing.set_int_custom_property("current_model_id", model.id)
    return not reason


@tfx.dsl.components.component
def BlessingGate(  # pylint: disable=invalid-name
    model: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    blessing: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.ModelBlessing],
    baseline_blessing: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ModelBlessing] = None,
    serving_blessing: tfx.dsl.components.InputArtifact[
        tfx.types.standard_artifacts.ModelBlessing] = None,
) -> None:
    """Blesses ``model`` iff each given blessing is blessed; records the reason otherwise."""
    write_blessing(model, blessing, baseline_blessing, serving_blessing)
