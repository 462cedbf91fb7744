"""Pipeline wiring (create_pipeline), configuration and runners (local, Kubeflow V2)."""
import trainer_module  # noqa: F401  (first: sets TF_USE_LEGACY_KERAS before TensorFlow loads)
