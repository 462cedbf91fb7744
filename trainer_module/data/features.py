"""Feature configuration shared by Transform, the search and the trainers.

One JSON-serialisable ``DatasetConfig`` says which raw columns are categorical
features, which are multi-valued, which is the label and what the task is. It
travels through the pipeline as ``custom_config["dataset"]``.

Contract of the *transformed* data (what ``preprocessing_fn`` emits and every
model reads):

* feature ``name`` -> int64 ids of shape ``[max_len]`` (``[1]`` for single-valued
  features); ids index the frequency-ordered vocabulary (0 = most frequent);
  ``-1`` marks padding and out-of-vocabulary values (zero embedding).
* ``LABEL_KEY`` -> int64 scalar: 0/1 for ranking, the label item's id for
  retrieval (``-1`` if the label item is outside the label vocabulary).
* vocabulary files are named ``vocab_filename(name)`` / ``LABEL_VOCAB`` so sizes
  are read from the transform output, never from constants.

Example::

    cfg = DatasetConfig(task="ranking", label="clicked",
                        features=[FeatureConfig("user_id"),
                                  FeatureConfig("genres", multivalent=True, max_len=6)])
    DatasetConfig.from_json(cfg.to_json()) == cfg
"""
from __future__ import annotations

import dataclasses
import json
from typing import Any, Dict, List, Optional, Tuple

from trainer_module.config_fields import check_at_least, check_choice, check_fields, check_keys

TASKS = ("ranking", "retrieval")
COMBINERS = ("sum", "mean")
LABEL_KEY = "label"
LABEL_VOCAB = "vocab__label"
PAD_ID = -1


def vocab_filename(feature: str) -> str:
    """Name of the TFT vocabulary file of ``feature``."""
    return f"vocab_{feature}"


def check_repeated_task(where: str, task: Optional[str], dataset_task: str,
                        remove: Optional[str] = None) -> None:
    """The task is declared once, in the dataset config; another config may only repeat it.

    Older pipeline configs and search options (and ``to_json`` output) name a ``task``;
    they still load when it equals the dataset config's, and fail with one line otherwise
    (``remove``: what the user should drop, default ``'task' from the <where>``).
    """
    if task is not None and task != dataset_task:
        raise ValueError(f"task {task!r} in the {where} differs from the dataset config's task "
                         f"{dataset_task!r}; the task is declared once, in the dataset config "
                         f"(remove {remove or repr('task') + ' from the ' + where})")


@dataclasses.dataclass(frozen=True)
class FeatureConfig:
    """One categorical input feature.

    Attributes:
      name: raw column name (also the transformed key).
      multivalent: the raw value holds several items joined by ``separator``.
      max_len: ids kept per example (pad with -1 / truncate); 1 if single-valued.
      separator: delimiter of multi-valued raw strings.
      top_k: keep only the k most frequent items (None = all).
      frequency_threshold: drop items seen fewer times than this.
      combiner: bag-of-words reduction for multi-valued features ("sum" or "mean").
    """

    name: str
    multivalent: bool = False
    max_len: int = 1
    separator: str = "|"
    top_k: Optional[int] = None
    frequency_threshold: int = 0
    combiner: str = "sum"

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"feature name must be a non-empty string, got {self.name!r}")
        check_fields(self, label=lambda key: f"feature {self.name!r}: {key}")
        check_at_least(f"feature {self.name!r}: max_len", self.max_len, 1)
        check_at_least(f"feature {self.name!r}: frequency_threshold", self.frequency_threshold, 0)
        if not self.multivalent and self.max_len != 1:
            raise ValueError(f"feature {self.name!r}: single-valued features have max_len 1, "
                             f"got {self.max_len}")
        if self.combiner not in COMBINERS:
            raise ValueError(f"feature {self.name!r}: combiner must be one of {COMBINERS}, "
                             f"got {self.combiner!r}")
        if self.top_k is not None and self.top_k < 1:
            raise ValueError(f"feature {self.name!r}: top_k must be >= 1, got {self.top_k}")


@dataclasses.dataclass(frozen=True)
class DatasetConfig:
    """Features, label and task of a dataset."""

    task: str
    label: str
    features: Tuple[FeatureConfig, ...]

    def __post_init__(self):
        object.__setattr__(self, "features", tuple(
            f if isinstance(f, FeatureConfig) else FeatureConfig(**f) for f in self.features))
        check_fields(self, label=lambda key: f"dataset config {key!r}", skip=("features",))
        check_choice("task", self.task, TASKS)
        names = [f.name for f in self.features]
        if not names:
            raise ValueError("dataset config has no features")
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"duplicate feature name(s): {dup}")
        if self.label in names:
            raise ValueError(f"label {self.label!r} is also listed as a feature")
        if LABEL_KEY in names:
            raise ValueError(f"feature name {LABEL_KEY!r} is reserved for the transformed label")

    @property
    def names(self) -> List[str]:
        return [f.name for f in self.features]

    def feature(self, name: str) -> FeatureConfig:
        for f in self.features:
            if f.name == name:
                return f
        raise ValueError(f"unknown feature {name!r}; known: {self.names}")

    def to_dict(self) -> Dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, d: Dict[str, Any]) -> "DatasetConfig":
        """Builds the config; unknown or missing keys raise a ValueError naming them."""
        if not isinstance(d, dict):
            raise ValueError(f"dataset config must be a JSON object, got {type(d).__name__}")
        check_keys("dataset config", d, _fields(cls), required=("task", "label", "features"))
        if not isinstance(d["features"], (list, tuple)):
            raise ValueError("dataset config: 'features' must be a list of feature objects")
        feats = []
        for i, f in enumerate(d["features"]):
            where = f"dataset config feature #{i}" + (
                f" ({f.get('name')!r})" if isinstance(f, dict) and f.get("name") else "")
            if not isinstance(f, dict):
                raise ValueError(f"{where} must be a JSON object, got {f!r}")
            check_keys(where, f, _fields(FeatureConfig), required=("name",))
            feats.append(FeatureConfig(**f))
        return cls(task=d["task"], label=d["label"], features=tuple(feats))

    @classmethod
    def from_json(cls, text: str) -> "DatasetConfig":
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise ValueError(f"malformed JSON at line {e.lineno} column {e.colno}: "
                             f"{e.msg}") from None
        return cls.from_dict(d)


def _fields(cls) -> Tuple[str, ...]:
    return tuple(f.name for f in dataclasses.fields(cls))
