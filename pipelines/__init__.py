"""Pipeline wiring (create_pipeline), configuration and runners (local, Kubeflow V2)."""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
