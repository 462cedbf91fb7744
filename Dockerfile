# Project image of the NIS TFX pipeline: every Kubeflow Pipelines v2 / Vertex AI step runs in it.
#
#   docker build -t us-docker.pkg.dev/PROJECT/REPO/nis-tfx:0.1.0 .
#   docker push  us-docker.pkg.dev/PROJECT/REPO/nis-tfx:0.1.0
#   python -m pipelines.runners.kubeflow_v2 --image us-docker.pkg.dev/PROJECT/REPO/nis-tfx:0.1.0 ...
#   (see docs/pipeline.md)
#
# Optional Dataflow worker image (Beam SDK launcher as entrypoint), for
# --sdk_container_image instead of --setup_file:
#   docker build --target dataflow -t us-docker.pkg.dev/PROJECT/REPO/nis-tfx-dataflow:0.1.0 .
#
# The base image already holds TFX 1.16 (Python 3.10, TensorFlow 2.16); installing
# with requirements/constraints.txt keeps every other package at the versions the
# tests ran with.
ARG TFX_VERSION=1.16.0
ARG BEAM_VERSION=2.59.0

FROM tensorflow/tfx:${TFX_VERSION} AS base

# tf.keras must be Keras 2 (tf_keras) for TFX 1.16: set before any TensorFlow import.
ENV TF_USE_LEGACY_KERAS=1 \
    TF_CPP_MIN_LOG_LEVEL=2 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /pipeline
RUN python -c "import sys; assert sys.version_info[:2] == (3, 10), sys.version"

# 1) Dependencies only (cached while setup.py and the constraints do not change).
COPY requirements/constraints.txt requirements/constraints.txt
COPY setup.py ./
RUN python -m pip install -c requirements/constraints.txt .

# 2) The project's packages, without touching the resolved dependencies.
COPY trainer_module/ trainer_module/
COPY components/ components/
COPY pipelines/ pipelines/
COPY system/ system/
COPY schemas/ schemas/
RUN python -m pip install --no-deps . \
 && python -c "import tfx, tf_keras, tensorflow as tf; \
assert tfx.__version__ == '1.16.0', tfx.__version__; \
assert tf.keras.__name__.startswith('tf_keras'), tf.keras.__name__; \
import trainer_module.data.preprocessing, trainer_module.model.trainer, components.gates.anomalies; \
import components.neural_input_search, components.mes_trainer"

FROM apache/beam_python3.10_sdk:${BEAM_VERSION} AS beam_sdk

# Dataflow custom container: same Python environment, Beam's launcher as entrypoint.
FROM base AS dataflow
COPY --from=beam_sdk /opt/apache/beam /opt/apache/beam
ENTRYPOINT ["/opt/apache/beam/boot"]

# Default target (last stage): the pipeline image. Kubeflow V2 sets the container
# command itself (python -m tfx.orchestration.kubeflow.v2.container.kubeflow_v2_run_executor).
FROM base AS pipeline
