"""Custom TFX components and artifact types of the NIS suite.

The artifact classes are reachable as ``components.<Class>`` because TFX's
Kubeflow V2 runtime imports a custom artifact type by its ``TYPE_NAME``
(``components.MultiSizeEmbeddingSpec``); they are loaded lazily so importing
this package stays cheap.
"""
import trainer_module  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)

_ARTIFACT_CLASSES = ("MultiSizeEmbeddingSpec", "SearchResults")


def __getattr__(name):
    if name in _ARTIFACT_CLASSES:
        from components import artifacts  # pylint: disable=import-outside-toplevel
        return getattr(artifacts, name)
    raise AttributeError(f"module 'components' has no attribute {name!r}")
