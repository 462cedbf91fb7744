"""Defaults shared by the search, the trainers, the pipeline config and the benchmark.

Each is defined here once and imported where it is used, so the search's supernet,
the retrained model, ``PipelineConfig`` and the benchmark cannot drift apart.
"""

DEFAULT_BATCH_SIZE = 256                 # examples per main-model (search) and trainer step
DEFAULT_HIDDEN_UNITS = (256, 128, 64)    # ReLU tower above the concatenated embeddings
