"""The NeuralInputSearch executor's settings as one typed record, parsed once in ``Do``.

``SearchRequest.from_exec_properties`` reads every execution property and the
``custom_config`` JSON once: the dataset config (which declares the task), the search
options (``SearchConfig``, for that task), the budget, mode and accounting, the
``search_space`` overrides (type-checked, ``spec.capacity``), batch sizes, strategy and
splits. The executor's functions take the record, never the raw properties; only the
checkpoint folder's fingerprint reads the properties themselves (what the work depends on).

Example::

    request = SearchRequest.from_exec_properties(exec_properties)
    request.batch_sizes            # (main-model batch, controller batch)
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Mapping, Optional, Tuple

from tfx.utils import json_utils

from components.neural_input_search import constants as c
from trainer_module.data import preprocessing
from trainer_module.data import tfx_io
from trainer_module.data.features import DatasetConfig
from trainer_module.defaults import DEFAULT_BATCH_SIZE
from trainer_module.search.config import SearchConfig
from trainer_module.spec import capacity


def search_space_overrides(text: Optional[str], names: List[str]) -> Dict[str, Dict[str, Any]]:
    """The ``search_space`` JSON, type-checked, with a ``'*'`` entry applied to every one of
    ``names`` (unknown feature names are kept for ``SearchSpace`` to reject)."""
    try:
        overrides = json.loads(text) if text else {}
    except json.JSONDecodeError as e:
        raise ValueError(f"search_space is not valid JSON ({e}): {text!r}") from e
    return capacity.expand_search_space(capacity.check_search_space(overrides), names)


@dataclasses.dataclass(frozen=True)
class SearchRequest:
    """What one NeuralInputSearch execution searches and how.

    Attributes:
      dataset: the dataset config (``custom_config['dataset']``); it declares the task.
      search: the search options, for the dataset's task.
      budget: floats of the embeddings (capped at the full model in ``build_search_space``).
      mode: "ME" or "SE".
      accounting: what the budget counts (``spec.ACCOUNTINGS``).
      search_space: the ``search_space`` JSON as given (None: the paper's defaults).
      train_batch_size: the main model's batch.
      eval_batch_size: the controller's batch (None: ``SearchConfig.controller_batch_size``).
      strategy: one of ``tfx_io.STRATEGIES``.
      shard_options: the parameter-server partitioner's settings (``tfx_io.shard_options``).
      train_split, eval_split: the splits the supernet and the controller read.
      ui_metadata_path: where KFP v1 viewer metadata goes (None: see ``ui_metadata_path``).
      custom_config: the ``custom_config`` dict (checkpoint keys included).
    """

    dataset: DatasetConfig
    search: SearchConfig
    budget: int
    mode: str = "ME"
    accounting: str = "exact"
    search_space: Optional[str] = None
    train_batch_size: int = DEFAULT_BATCH_SIZE
    eval_batch_size: Optional[int] = None
    strategy: str = "default"
    shard_options: Dict[str, int] = dataclasses.field(default_factory=dict)
    train_split: str = "train"
    eval_split: str = "eval"
    ui_metadata_path: Optional[str] = None
    custom_config: Dict[str, Any] = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        if self.strategy not in tfx_io.STRATEGIES:
            raise ValueError(f"strategy must be one of {tfx_io.STRATEGIES}, got {self.strategy!r}")
        batch = self.eval_batch_size
        if batch is not None and self.search.task == "ranking" and batch % self.search.group_size:
            raise ValueError(f"eval_batch_size {batch} must be a multiple of group_size "
                             f"{self.search.group_size} for ranking (one AUC reward per group)")

    @classmethod
    def from_exec_properties(cls, exec_properties: Mapping[str, Any]) -> "SearchRequest":
        """The record of the component's execution properties (see ``component.py``).

        Raises:
          ValueError: one line naming a missing dataset config, a search option of the wrong
            type or another task than the dataset's, or a bad ``search_space``.
        """
        props = exec_properties
        config = json_utils.loads(props.get(c.CUSTOM_CONFIG_KEY) or "null") or {}
        dataset = preprocessing.dataset_from_custom_config(config)
        search = SearchConfig.from_json(props.get(c.SEARCH_CONFIG_KEY) or "{}",
                                        task=dataset.task)
        text = props.get(c.SEARCH_SPACE_KEY) or None
        search_space_overrides(text, [f.name for f in dataset.features])  # fail early
        eval_bs = props.get(c.EVAL_BATCH_SIZE_KEY)
        return cls(dataset=dataset, search=search, budget=int(props[c.BUDGET_KEY]),
                   mode=props.get(c.MODE_KEY) or "ME",
                   accounting=props.get(c.ACCOUNTING_KEY) or "exact", search_space=text,
                   train_batch_size=int(props.get(c.TRAIN_BATCH_SIZE_KEY) or DEFAULT_BATCH_SIZE),
                   eval_batch_size=None if eval_bs is None else int(eval_bs),
                   strategy=props.get(c.STRATEGY_KEY) or "default",
                   shard_options=tfx_io.shard_options(config),
                   train_split=props.get(c.TRAIN_SPLIT_KEY) or "train",
                   eval_split=props.get(c.EVAL_SPLIT_KEY) or "eval",
                   ui_metadata_path=props.get(c.UI_METADATA_PATH_KEY) or None,
                   custom_config=config)

    @property
    def batch_sizes(self) -> Tuple[int, int]:
        """(main-model batch, controller batch)."""
        if self.eval_batch_size is None:
            return self.train_batch_size, self.search.controller_batch_size(self.train_batch_size)
        return self.train_batch_size, self.eval_batch_size

    def overrides(self, names: List[str]) -> Dict[str, Dict[str, Any]]:
        """Per-feature ``search_space`` options of the features ``names``."""
        return search_space_overrides(self.search_space, names)
