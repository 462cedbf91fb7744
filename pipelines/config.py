"""One configuration object for every runner of the NIS pipeline.

``PipelineConfig`` holds the names, the data and schema paths, the search
budget/mode/task, the search options (``search``: one ``SearchConfig`` as a
dict), the container image, Beam arguments and the output layout. It is a plain dataclass: build it in Python, load it from JSON
(``PipelineConfig.from_json``) or from command-line flags (``pipelines.cli``); runners
only read it.

Output layout under ``output_dir`` (local runs)::

    <output_dir>/pipeline_root/<pipeline_name>/...   component outputs (artifacts)
    <output_dir>/pipeline_root/<pipeline_name>/metadata.db   SQLite MLMD
    <output_dir>/serving_model/<pipeline_name>/...   Pusher destination

Example::

    cfg = PipelineConfig(data_path="data/", schema_path="schemas/movies.pbtxt",
                         dataset_config_path="data/dataset.json", budget=50_000)
    PipelineConfig.from_json(cfg.to_json()) == cfg
"""
from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any, Dict, List, Optional

from pipelines import vertex_cluster
from trainer_module.config_fields import check_fields
from trainer_module.defaults import DEFAULT_BATCH_SIZE
from trainer_module.data.features import TASKS, DatasetConfig
from trainer_module.search.config import SearchConfig
from trainer_module.model.training import DEFAULT_MAX_EPOCHS, DEFAULT_PATIENCE
from trainer_module.spec.capacity import check_search_space
from trainer_module.spec.mes import MODES

PREPROCESSING_FN = "trainer_module.data.preprocessing.preprocessing_fn"
RUN_FN = "trainer_module.model.trainer.run_fn"
DEFAULT_IMAGE = "gcr.io/YOUR_PROJECT/nis-tfx:0.1.0"
DEFAULT_SPLITS = {"train": 7, "eval": 2, "test": 1}
INPUT_FORMATS = ("csv", "tfrecord")
# In-process DirectRunner: fastest for small data. For large local data use
# ["--direct_running_mode=multi_processing", "--direct_num_workers=0"] (one worker per CPU).
DEFAULT_BEAM_ARGS = ("--direct_running_mode=in_memory", "--direct_num_workers=1")


@dataclasses.dataclass
class PipelineConfig:
    """Everything a runner needs to build and place the NIS pipeline.

    Attributes:
      pipeline_name: TFX pipeline name (MLMD context, output folder name).
      data_path: folder of CSV files (``input_format="csv"``) or of gzipped
        TFRecord ``tf.Example`` files (``"tfrecord"``).
      input_format: "csv" (CsvExampleGen) or "tfrecord" (ImportExampleGen).
      split_ratios: hash-bucket ratios of the output splits (default 70/20/10
        train/eval/test); ignored when ``input_splits`` is set.
      input_splits: pre-split input, split name -> glob relative to
        ``data_path`` (e.g. ``{"train": "train/*", "eval": "eval/*", "test": "test/*"}``).
      schema_path: schema.pbtxt file imported with ImportSchemaGen; None infers
        the schema from the statistics with SchemaGen.
      dataset_config_path: JSON file of a ``DatasetConfig`` (features, label, task).
      dataset: the ``DatasetConfig`` as a dict (wins over ``dataset_config_path``).
      task: the dataset config declares the task; this field is an optional check (None: the
        dataset config's; another value is an error). The runners' ``--task`` picks the demo's
        data set.
      mode, budget: "ME"/"SE", budget in floats.
      search: the search options, a ``SearchConfig`` as a dict (e.g. ``{"search_steps": 600,
        "seed": 3, "fill_budget": true}``); omitted options keep their defaults, ``task`` comes
        from the dataset config. NeuralInputSearch receives it as one execution parameter.
        Its ``warm_start`` ("on"/"auto") also wires the latest blessed model into the search.
      train_batch_size: batch size of the search's main model and of the trainers.
      search_space: optional search-space overrides (e.g. vocab_fractions).
      strategy: tf.distribute strategy of the search and trainers: default | mirrored | tpu |
        multi_worker_mirrored | parameter_server (``TF_CONFIG``'s cluster, see ``cluster``).
      max_epochs, patience: the Trainers' recipe (``trainer_module.model.training``): epochs of
        one pass over the train split until the validation metric has not improved for
        ``patience`` epochs (at most ``max_epochs``); the best epoch is exported.
      steps_per_execution: training steps per compiled call of the Trainers (the same
        updates, less per-call overhead: Keras' knob for accelerators,
        docs/decisions.md#trainer-steps-per-call); above 1 a Trainer first counts the train and
        eval splits.
      train_steps: optional cap on a Trainer's total steps (TrainArgs; 0 = no cap).
      serving_top_k: retrieval: items the exported model's ``serving_default`` returns per
        request (their vocabulary ids and scores, best first; ``trainer_module.model.serving``).
      serving_history_feature: retrieval: the multi-valued feature whose items
        ``serving_default`` never returns (items the user already has); None picks the
        ``history`` feature when the dataset has one, "" returns every item.
      eval_steps: validation batches per epoch (EvalArgs; 0 = the whole eval split).
      train_baseline: also train the hand-sized SE baseline at the same budget.
      baseline_dim: fixed SE width for the baseline (None = the width whose water-filled
        vocabularies use the budget best, ``baselines.fair_width``).
      baseline_dims: uniform widths the baseline tries (e.g. ``[1, 2, 4, 8]``), one model each
        at the same budget; the best on validation is the baseline (wins over
        ``baseline_dim``; None = one width).
      blessing_threshold: lower bound of the blessing metric (AUC for ranking,
        Recall@5 for retrieval) for the Pusher to push.
      baseline_tolerance: the candidate may be at most this much worse than the
        baseline on the blessing metric (None = no comparison).
      output_dir: local root of artifacts, MLMD and the pushed model.
      pipeline_root: explicit pipeline root (e.g. gs://bucket/root for Vertex).
      serving_model_dir: explicit Pusher destination.
      enable_cache: reuse outputs of unchanged executions.
      max_oov_label_share: retrieval only: the run stops before any training when
        a larger share of the eval/test labels is absent from the training label
        vocabulary (Recall@K cannot score those examples).
      beam_pipeline_args: Beam flags (default: in-process DirectRunner); e.g.
        ``--direct_running_mode=multi_processing --direct_num_workers=0`` locally,
        or ``--runner=DataflowRunner --project=... --region=... --temp_location=gs://...
        --sdk_container_image=<image>`` for Dataflow.
      image: container image for Kubeflow/Vertex (the project Dockerfile).
      cluster: Kubeflow V2 / Vertex: run the search and both trainers as Vertex AI custom
        training jobs on this cluster (``pipelines.vertex_cluster``: ``project``, ``region``,
        ``chief``, ``workers`` and ``ps`` pools of machine type, count and accelerators);
        with ``ps`` the strategy must be ``parameter_server``, without it
        ``multi_worker_mirrored``. Local runners ignore it.
      search_resources / trainer_resources: Kubeflow V2 / Vertex per-step
        resources: {"cpu_limit": 8, "memory_limit": 32, "accelerator_type":
        "NVIDIA_TESLA_T4", "accelerator_count": 1}.
      serving_tolerance: the candidate may be at most this much worse than the latest
        blessed model of the pipeline (what serves) on the blessing metric; 0.0 = no worse;
        None = no comparison with the serving model.
    """

    pipeline_name: str = "nis-pipeline"
    data_path: str = "data"
    input_format: str = "csv"
    split_ratios: Dict[str, int] = dataclasses.field(default_factory=lambda: dict(DEFAULT_SPLITS))
    input_splits: Optional[Dict[str, str]] = None
    schema_path: Optional[str] = None
    dataset_config_path: Optional[str] = None
    dataset: Optional[Dict[str, Any]] = None
    task: Optional[str] = None
    mode: str = "ME"
    budget: int = 50_000
    search: Dict[str, Any] = dataclasses.field(default_factory=dict)
    train_batch_size: int = DEFAULT_BATCH_SIZE
    search_space: Optional[Dict[str, Any]] = None
    strategy: str = "default"
    max_epochs: int = DEFAULT_MAX_EPOCHS
    patience: int = DEFAULT_PATIENCE
    steps_per_execution: int = 1
    train_steps: int = 0
    serving_top_k: int = 10
    serving_history_feature: Optional[str] = None
    eval_steps: int = 0
    train_baseline: bool = True
    baseline_dim: Optional[int] = None
    baseline_dims: Optional[List[int]] = None
    blessing_threshold: Optional[float] = 0.5
    baseline_tolerance: Optional[float] = None
    output_dir: str = "nis_output"
    pipeline_root: Optional[str] = None
    serving_model_dir: Optional[str] = None
    enable_cache: bool = True
    max_oov_label_share: float = 0.2
    beam_pipeline_args: List[str] = dataclasses.field(default_factory=lambda: list(DEFAULT_BEAM_ARGS))
    image: str = DEFAULT_IMAGE
    cluster: Optional[Dict[str, Any]] = None
    search_resources: Optional[Dict[str, Any]] = None
    trainer_resources: Optional[Dict[str, Any]] = None
    preprocessing_fn: str = PREPROCESSING_FN
    run_fn: str = RUN_FN
    serving_tolerance: Optional[float] = 0.0

    def __post_init__(self):
        check_fields(self)  # every field's type, one line naming it ("budget must be an integer")
        self.search_space = check_search_space(self.search_space) or None
        check_pipeline_name(self.pipeline_name)
        if self.task is not None and self.task not in TASKS:
            raise ValueError(f"task must be one of {TASKS}, got {self.task!r}")
        if self.mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {self.mode!r}")
        if self.input_format not in INPUT_FORMATS:
            raise ValueError(f"input_format must be one of {INPUT_FORMATS}, got {self.input_format!r}")
        for key in ("max_epochs", "steps_per_execution", "serving_top_k"):
            if int(getattr(self, key)) < 1:
                raise ValueError(f"{key} must be >= 1, got {getattr(self, key)!r}")
        if int(self.budget) <= 0:
            raise ValueError(f"budget must be a positive number of floats (> 0), got {self.budget!r}")
        if not 0.0 <= float(self.max_oov_label_share) <= 1.0:
            raise ValueError("max_oov_label_share must be within [0, 1], got "
                             f"{self.max_oov_label_share!r}")
        self.search = dict(self.search) if isinstance(self.search, dict) else self.search
        self.search_config()  # one-line errors: unknown option, wrong type, another task
        if self.cluster is not None:
            vertex_cluster.check(self.cluster, self.strategy)
        for key in ("train_steps", "eval_steps", "train_batch_size", "patience"):
            if int(getattr(self, key)) < 0:
                raise ValueError(f"{key} must be >= 0, got {getattr(self, key)!r}")
        if not self.input_splits:
            bad = [k for k in ("train", "eval") if k not in self.split_ratios]
            if bad or any(not isinstance(v, int) or v <= 0 for v in self.split_ratios.values()):
                raise ValueError("split_ratios needs positive integer 'train' and 'eval' buckets "
                                 f"(and optionally 'test'), e.g. train=7,eval=2,test=1; "
                                 f"got {self.split_ratios}")

    # -- derived locations --------------------------------------------------
    @property
    def resolved_pipeline_root(self) -> str:
        return self.pipeline_root or os.path.join(self.output_dir, "pipeline_root", self.pipeline_name)

    @property
    def metadata_path(self) -> str:
        """SQLite MLMD file of local runs (under the pipeline root)."""
        return os.path.join(self.resolved_pipeline_root, "metadata.db")

    @property
    def resolved_serving_model_dir(self) -> str:
        return self.serving_model_dir or os.path.join(self.output_dir, "serving_model", self.pipeline_name)

    @property
    def split_names(self) -> List[str]:
        return list(self.input_splits) if self.input_splits else list(self.split_ratios)

    def search_config(self) -> SearchConfig:
        """The ``SearchConfig`` of ``search``, for the dataset config's task (the options'
        own when no dataset config can be read yet)."""
        return SearchConfig.from_dict(self.search, task=self.task or self._declared_task())

    def _declared_task(self) -> Optional[str]:
        """The dataset config's task when it is at hand (inline, or a readable file)."""
        if isinstance(self.dataset, dict) and self.dataset.get("task") in TASKS:
            return self.dataset["task"]
        if self.dataset is None and self.dataset_config_path and os.path.isfile(
                self.dataset_config_path):
            try:
                return self.load_dataset().task
            except ValueError:
                return None  # reported, with its file, by load_dataset
        return None

    @property
    def resolved_task(self) -> str:
        """The task of the run: the dataset config's."""
        return self.load_dataset().task

    def load_dataset(self) -> DatasetConfig:
        """The DatasetConfig from ``dataset`` or ``dataset_config_path``; task must agree."""
        if self.dataset is not None:
            ds = DatasetConfig.from_dict(self.dataset)
        elif self.dataset_config_path:
            try:
                with open(self.dataset_config_path, encoding="utf-8") as f:
                    ds = DatasetConfig.from_json(f.read())
            except (OSError, ValueError) as e:
                raise ValueError(f"dataset config {self.dataset_config_path}: {e}") from e
        else:
            raise ValueError("no dataset config: set `dataset` or `dataset_config_path` "
                             "(a DatasetConfig JSON file)")
        if self.task is not None and ds.task != self.task:
            raise ValueError(f"dataset config is for task {ds.task!r} but the pipeline task is "
                             f"{self.task!r}")
        history = self.serving_history_feature
        if history and (history not in ds.names or not ds.feature(history).multivalent):
            raise ValueError(f"serving_history_feature {history!r} is not a multi-valued feature "
                             f"of the dataset config (multi-valued: "
                             f"{[f.name for f in ds.features if f.multivalent]})")
        return ds

    # -- (de)serialisation --------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "PipelineConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(d, dict):
            raise ValueError(f"a pipeline config is a JSON object, got {type(d).__name__}")
        moved = sorted(set(d) & {f.name for f in dataclasses.fields(SearchConfig)} - known)
        if moved:
            raise ValueError(f"pipeline config key(s) {moved} are search options now: put them in "
                             f"\"search\", e.g. {{\"search\": {{\"{moved[0]}\": ...}}}}")
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown pipeline config key(s) {unknown}; accepted: "
                             f"{', '.join(sorted(known))}")
        return cls(**d)

    @classmethod
    def from_json(cls, text: str) -> "PipelineConfig":
        return cls.from_dict(parse_json(text))

    @classmethod
    def from_file(cls, path: str) -> "PipelineConfig":
        try:
            with open(path, encoding="utf-8") as f:
                return cls.from_json(f.read())
        except (OSError, ValueError) as e:
            raise ValueError(f"pipeline config {path}: {e}") from e


def parse_json(text: str) -> Any:
    """``json.loads`` whose error is one line naming the line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as e:
        raise ValueError(f"malformed JSON at line {e.lineno} column {e.colno}: {e.msg}") from None


_PIPELINE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def check_pipeline_name(name: str) -> None:
    """Rejects names that are not one plain folder name (``/``, ``\\``, ``..``, leading dot).

    The name is a folder under ``output_dir``; a separator or ``..`` would put
    the MLMD database and the artifacts outside it.
    """
    if not isinstance(name, str) or not _PIPELINE_NAME.match(name) or ".." in name:
        raise ValueError(f"pipeline_name must be one folder name of letters, digits, '_', '-' "
                         f"and '.' (no path separators or '..'), got {name!r}")
