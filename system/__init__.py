"""KFP v2 visualization artifact types: ``system.HTML`` and ``system.Markdown``.

The Kubeflow Pipelines v2 UI and Vertex AI Pipelines render an artifact whose
schema title is ``system.HTML`` or ``system.Markdown`` (the file at its URI) in
the run's page. TFX's Kubeflow V2 compiler uses a custom type's ``TYPE_NAME`` as
that schema title, and its runtime imports the class back by the same name as a
``<module>.<Class>`` path, so the classes live in this top-level ``system``
module. Both are value artifacts: the URI is one file, the rendered text.

Example::

    html: OutputArtifact[system.HTML]
    ...
    write_text(html, "<html>...</html>")
"""
from tfx.dsl.io import fileio
from tfx.types.value_artifact import ValueArtifact


class _TextArtifact(ValueArtifact):
    """A UTF-8 text file at the artifact's URI."""

    def encode(self, value: str) -> bytes:
        return value.encode("utf-8")

    def decode(self, serialized_value: bytes) -> str:
        return serialized_value.decode("utf-8")


class HTML(_TextArtifact):
    """An HTML page the KFP v2 / Vertex run UI shows."""

    TYPE_NAME = "system.HTML"


class Markdown(_TextArtifact):
    """A Markdown document the KFP v2 / Vertex run UI shows."""

    TYPE_NAME = "system.Markdown"


def write_text(artifact: _TextArtifact, text: str) -> None:
    """Writes ``text`` as the artifact's file (its URI)."""
    with fileio.open(artifact.uri, "w") as f:
        f.write(text)
