"""The Trainer's settings as one typed record, parsed once from ``fn_args.custom_config``.

``run_fn`` (``trainer_module.model.trainer``) builds a ``TrainerConfig`` first and reads
nothing else from the dict: every key is checked by name (an unknown or misspelt key is
an error), by type (``config_fields``: a string, a bool for a number or a fraction for an
integer is an error) and by range, each with one line naming the key.

Example::

    config = TrainerConfig.from_custom_config({"dataset": dataset.to_dict(), "budget": 50_000,
                                               "baseline": True})
    config.eval_batch, config.name     # (256, "BaselineTrainer")
"""
from __future__ import annotations

import dataclasses
from typing import Any, Dict, Mapping, Optional, Tuple

from trainer_module.config_fields import check_at_least, check_choice, check_fields, check_keys
from trainer_module.data import tfx_io
from trainer_module.data.features import DatasetConfig
from trainer_module.data.preprocessing import DATASET_KEY, dataset_from_custom_config
from trainer_module.defaults import DEFAULT_BATCH_SIZE, DEFAULT_HIDDEN_UNITS
from trainer_module.model import serving
from trainer_module.model.optimizers import DEFAULT_OPTIMIZER, OPTIMIZERS
from trainer_module.model.training import DEFAULT_MAX_EPOCHS, DEFAULT_PATIENCE, TrainRecipe
from trainer_module.spec.capacity import check_search_space

PARAMETER_SERVER = "parameter_server"


def _label(name: str) -> str:
    return f"custom_config[{name!r}]"


@dataclasses.dataclass(frozen=True)
class TrainerConfig:
    """What ``run_fn`` trains and how; each field is the ``custom_config`` key of that name.

    Attributes:
      dataset: the ``DatasetConfig`` (required; it declares the task).
      mes_uri: MES JSON path (MesTrainer sets it from its ``embedding_spec`` input).
      baseline: train the uniform SE baseline (``baselines.uniform_se_spec``) even when an
        MES is wired; without an MES the baseline is trained anyway.
      budget: floats of the embeddings (the pipeline config's); an MES must record the same
        budget. Above the full model's floats it is capped there (``capacity.capped_budget``),
        as the search caps it. None: the MES's budget.
      baseline_dim: fixed width of the SE baseline (None: ``baselines.fair_width``, the width
        whose water-filled vocabularies use the budget best); never wider than the search
        space's maximum width.
      baseline_dims: a small grid of uniform widths (e.g. ``[1, 2, 4, 8]``): the baseline
        trains one model per width at the same budget and keeps the best on validation, what
        a person hand-tuning the width would keep (wins over ``baseline_dim``).
      search_space: the search's ``search_space`` overrides; they set the maximum widths
        behind the budget cap and the baseline's width cap (pass the search's own).
      train_batch_size, eval_batch_size: batch sizes (eval: None = the train batch size).
      learning_rate, hidden_units, optimizer: the model (``models.build_model``); optimizer
        one of ``optimizers.OPTIMIZERS``.
      strategy: one of ``tfx_io.STRATEGIES``; with 'parameter_server' the tables are split
        over the ``TF_CONFIG`` cluster's parameter servers (``shard_options``) and
        ``steps_per_epoch`` plus ``EvalArgs.num_steps`` or ``validation_steps`` are required.
      shard_options: ``make_strategy``'s partitioner settings, from the custom_config keys
        ``tfx_io.SHARD_OPTION_KEYS`` (``ps_min_shard_bytes``, ``ps_max_shard_bytes``).
      steps_per_epoch, validation_steps: fixed epoch and validation lengths (None: one pass).
      seed: shuffling seed of the training data (None: unseeded).
      steps_per_execution: training steps per compiled call (>= 1).
      max_epochs, patience: the training recipe (``training.fit``).
      checkpoint_dir: per-epoch checkpoints; a re-run with the same folder resumes.
      serving_top_k: items the retrieval ``serving_default`` returns per request
        (``trainer_module.model.serving``).
      serving_history_feature: the multi-valued feature whose items the retrieval
        ``serving_default`` never returns: None picks the ``history`` bag when the dataset
        has one, ``''`` excludes nothing (resolved: ``history_feature``).
    """

    dataset: DatasetConfig
    mes_uri: Optional[str] = None
    baseline: bool = False
    budget: Optional[int] = None
    baseline_dim: Optional[int] = None
    baseline_dims: Optional[Tuple[int, ...]] = None
    search_space: Optional[Dict[str, Dict[str, Any]]] = None
    train_batch_size: int = DEFAULT_BATCH_SIZE
    eval_batch_size: Optional[int] = None
    learning_rate: float = 1e-3
    hidden_units: Tuple[int, ...] = DEFAULT_HIDDEN_UNITS
    optimizer: str = DEFAULT_OPTIMIZER
    strategy: str = "default"
    shard_options: Dict[str, int] = dataclasses.field(default_factory=dict)
    steps_per_epoch: Optional[int] = None
    validation_steps: Optional[int] = None
    seed: Optional[int] = None
    steps_per_execution: int = 1
    max_epochs: int = DEFAULT_MAX_EPOCHS
    patience: int = DEFAULT_PATIENCE
    checkpoint_dir: Optional[str] = None
    serving_top_k: int = serving.DEFAULT_TOP_K
    serving_history_feature: Optional[str] = None

    def __post_init__(self):
        if not isinstance(self.dataset, DatasetConfig):
            raise ValueError(f"{_label(DATASET_KEY)} must be a DatasetConfig, got {self.dataset!r}")
        check_fields(self, label=_label, skip=("dataset",))
        object.__setattr__(self, "search_space",
                           check_search_space(self.search_space, _label("search_space")) or None)
        if self.budget is not None and self.budget <= 0:
            raise ValueError(f"{_label('budget')} must be a positive number of floats (> 0), "
                             f"got {self.budget!r}")
        for name in ("baseline_dim", "train_batch_size", "eval_batch_size", "steps_per_epoch",
                     "validation_steps", "steps_per_execution", "max_epochs", "serving_top_k"):
            check_at_least(_label(name), getattr(self, name), 1)
        check_at_least(_label("patience"), self.patience, 0)
        for dim in self.baseline_dims or ():
            check_at_least(_label("baseline_dims"), dim, 1)
        if self.baseline_dims is not None and not self.baseline_dims:
            raise ValueError(f"{_label('baseline_dims')} must list at least one width, got []")
        if self.learning_rate <= 0:
            raise ValueError(f"{_label('learning_rate')} must be > 0, got {self.learning_rate!r}")
        if any(u < 1 for u in self.hidden_units):
            raise ValueError(f"{_label('hidden_units')} must all be >= 1, got "
                             f"{list(self.hidden_units)}")
        check_choice(_label("optimizer"), self.optimizer, OPTIMIZERS)
        check_choice(_label("strategy"), self.strategy, tfx_io.STRATEGIES)
        _ = self.history_feature  # a name that is not a bag of the dataset fails here

    @classmethod
    def from_custom_config(cls, custom_config: Optional[Mapping[str, Any]]) -> "TrainerConfig":
        """The record of a Trainer's ``custom_config`` (keys: the fields, see the class).

        Raises:
          ValueError: one line naming a missing ``dataset``, an unknown key (with the accepted
            ones), or a value of the wrong type or range.
        """
        d = dict(custom_config or {})
        dataset = dataset_from_custom_config(d)
        accepted = [f.name for f in dataclasses.fields(cls) if f.name != "shard_options"]
        check_keys("custom_config", d, [*accepted, *tfx_io.SHARD_OPTION_KEYS])
        shard = tfx_io.shard_options(d)
        fields = {k: v for k, v in d.items() if k not in tfx_io.SHARD_OPTION_KEYS}
        return cls(**{**fields, DATASET_KEY: dataset, "shard_options": shard})

    @property
    def eval_batch(self) -> int:
        """The validation batch size (``eval_batch_size``, else ``train_batch_size``)."""
        return self.eval_batch_size or self.train_batch_size

    @property
    def name(self) -> str:
        """How progress lines and logs name this trainer."""
        return "BaselineTrainer" if self.baseline else "Trainer"

    @property
    def history_feature(self) -> Optional[str]:
        """The feature the retrieval ``serving_default`` excludes items of, or None."""
        return serving.history_feature(self.serving_history_feature, self.dataset,
                                       _label("serving_history_feature"))

    @property
    def parameter_servers(self) -> bool:
        return self.strategy == PARAMETER_SERVER

    def recipe(self, max_steps: Optional[int] = None) -> TrainRecipe:
        """The training recipe, capped at ``max_steps`` (``TrainArgs.num_steps``; 0/None: no cap)."""
        return TrainRecipe(max_epochs=self.max_epochs, patience=self.patience,
                           max_steps=int(max_steps) if max_steps else None)
