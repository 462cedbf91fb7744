"""TF Transform ``preprocessing_fn``: raw columns -> frequency-ordered vocabulary ids.

TFX Transform calls ``preprocessing_fn(inputs, custom_config)`` with
``custom_config["dataset"]`` holding a ``DatasetConfig`` (JSON string or dict).
For every feature it builds a vocabulary sorted by descending count (id 0 = most
frequent; ``top_k`` / ``frequency_threshold`` from the ``FeatureConfig``; file
``vocab_filename(name)``) and emits int64 ids of shape ``[max_len]``: values are
cast to strings, multi-valued cells are split on the separator, empty/missing
values are dropped, rows are truncated to their first ``max_len`` items *before*
the vocabulary is computed (it counts only items the model can see),
out-of-vocabulary items map to ``PAD_ID`` (-1) and rows are padded with -1. The label goes to ``LABEL_KEY``: 0/1
for ranking (any other, missing or non-numeric value fails naming the column;
the AnomaliesGate catches these before Transform, this is the last guard), the
id in the ``LABEL_VOCAB`` vocabulary for retrieval (-1 if missing or unseen).

Sizes are read back from the transform output with
``vocab_sizes_from_transform_output`` and ``num_labels``, never hard-coded.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Optional, Union

import tensorflow as tf  # trainer_module/__init__ has set TF_USE_LEGACY_KERAS=1
import tensorflow_transform as tft

from trainer_module.data import features

TensorLike = Union[tf.Tensor, tf.SparseTensor, tf.RaggedTensor]
DatasetLike = Union[features.DatasetConfig, Mapping[str, Any], str]
TransformOutputLike = Union[tft.TFTransformOutput, str]
DATASET_KEY = "dataset"


def as_dataset_config(dataset: DatasetLike) -> features.DatasetConfig:
    """Accepts a ``DatasetConfig``, its ``to_dict()`` or its ``to_json()``."""
    if isinstance(dataset, features.DatasetConfig):
        return dataset
    if isinstance(dataset, (str, bytes)):
        return features.DatasetConfig.from_json(dataset)
    if isinstance(dataset, Mapping):
        return features.DatasetConfig.from_dict(dict(dataset))
    raise TypeError(f"expected a DatasetConfig, dict or JSON string, got {type(dataset).__name__}")


def dataset_from_custom_config(
        custom_config: Optional[Mapping[str, Any]]) -> features.DatasetConfig:
    """Reads ``custom_config["dataset"]``; raises ValueError when it is absent."""
    if not custom_config or DATASET_KEY not in custom_config:
        raise ValueError(f"custom_config must hold {DATASET_KEY!r} (a DatasetConfig as JSON or "
                         f"dict); got keys {sorted(custom_config or {})}")
    return as_dataset_config(custom_config[DATASET_KEY])


def preprocessing_fn(inputs: Mapping[str, TensorLike],
                     custom_config: Optional[Mapping[str, Any]] = None) -> Dict[str, tf.Tensor]:
    """TFX Transform entry point (see the module docstring for the output contract).

    Args:
      inputs: raw batch, column name -> dense, sparse or ragged tensor of
        strings or numbers.
      custom_config: ``{"dataset": DatasetConfig JSON str or dict}``.

    Returns:
      ``{feature name: int64 [B, max_len], LABEL_KEY: int64 [B]}``.

    Raises:
      ValueError: the config is missing or names a column absent from ``inputs``.
    """
    dataset = dataset_from_custom_config(custom_config)
    _check_columns(inputs, dataset)
    outputs = {fc.name: _feature_ids(inputs[fc.name], fc) for fc in dataset.features}
    outputs[features.LABEL_KEY] = _label(inputs[dataset.label], dataset.task, dataset.label)
    return outputs


def vocab_sizes_from_transform_output(tf_transform_output: TransformOutputLike,
                                      dataset_config: DatasetLike) -> Dict[str, int]:
    """Vocabulary size of every feature, read from the transform output's asset files."""
    output = _transform_output(tf_transform_output)
    dataset = as_dataset_config(dataset_config)
    return {name: int(output.vocabulary_size_by_name(features.vocab_filename(name)))
            for name in dataset.names}


def num_labels(tf_transform_output: TransformOutputLike,
               dataset_config: DatasetLike) -> Optional[int]:
    """Size of the retrieval label vocabulary; ``None`` for ranking (binary label)."""
    if as_dataset_config(dataset_config).task != "retrieval":
        return None
    return int(_transform_output(tf_transform_output).vocabulary_size_by_name(
        features.LABEL_VOCAB))


def _transform_output(value: TransformOutputLike) -> tft.TFTransformOutput:
    return value if isinstance(value, tft.TFTransformOutput) else tft.TFTransformOutput(value)


def _check_columns(inputs: Mapping[str, Any], dataset: features.DatasetConfig) -> None:
    missing = [c for c in dataset.names + [dataset.label] if c not in inputs]
    if missing:
        raise ValueError(f"DatasetConfig names column(s) {missing} absent from the Transform "
                         f"inputs; available columns: {sorted(inputs)}")


def raw_tokens(x: TensorLike, fc: features.FeatureConfig) -> tf.RaggedTensor:
    """Raw feature -> ``[B, None]`` ragged item strings, as the vocabulary sees them.

    Numbers are cast to strings, multi-valued cells are split on ``fc.separator``, items
    are stripped and empty ones dropped (no ``max_len`` truncation).
    """
    tokens = _to_ragged_strings(x)
    if fc.multivalent:
        tokens = tf.strings.split(tokens, sep=fc.separator).merge_dims(1, 2)
    return _drop_empty(tf.strings.strip(tokens))


def label_tokens(x: TensorLike) -> tf.RaggedTensor:
    """Raw retrieval label -> ``[B, None]`` ragged strings, as the label vocabulary sees them."""
    return _drop_empty(tf.strings.strip(_to_ragged_strings(x)))


def _feature_ids(x: TensorLike, fc: features.FeatureConfig) -> tf.Tensor:
    """Raw feature -> int64 ``[B, max_len]`` ids, -1 for OOV / padding."""
    tokens = raw_tokens(x, fc)
    if fc.multivalent:  # the vocabulary counts only the items the model sees: max_len per row
        tokens = tokens[:, :fc.max_len]
    ids = _apply_vocab(tokens, features.vocab_filename(fc.name), top_k=fc.top_k,
                       frequency_threshold=fc.frequency_threshold)
    return ids.to_tensor(default_value=features.PAD_ID, shape=[None, fc.max_len])


def _label(x: TensorLike, task: str, column: str = "label") -> tf.Tensor:
    """Raw label -> int64 ``[B]`` (see module docstring)."""
    if task == "retrieval":
        ids = _apply_vocab(label_tokens(x), features.LABEL_VOCAB, top_k=None, frequency_threshold=0)
        return _first_value(ids, features.PAD_ID)
    values = _to_ragged(x)
    if values.dtype == tf.string:
        values = tf.strings.strip(values)
        numeric = tf.strings.regex_full_match(values, _NUMBER)
        values = tf.strings.to_number(
            tf.ragged.map_flat_values(tf.where, numeric, values, "nan"), tf.float64)
    first = _first_value(tf.cast(values, tf.float64), float("nan"))
    return _checked_binary(first, column)


_NUMBER = r"[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?"


def _checked_binary(label: tf.Tensor, column: str) -> tf.Tensor:
    """``label`` as int64 when every value is 0 or 1; otherwise the op fails naming ``column``.

    A data dependency (``check_numerics`` on a NaN marker), not an assert op, so
    the check runs wherever the label is computed and is pruned with it.
    """
    binary = tf.logical_or(tf.equal(label, 0.0), tf.equal(label, 1.0))
    marker = tf.where(binary, tf.zeros_like(label),
                      tf.fill(tf.shape(label), tf.constant(float("nan"), label.dtype)))
    checked = tf.debugging.check_numerics(
        marker, f"ranking label column {column!r} must be 0 or 1 in every example (a missing, "
                f"non-numeric or other value is not coerced)")
    return tf.cast(label + checked, tf.int64)


def _apply_vocab(tokens: tf.RaggedTensor, vocab_name: str, top_k: Optional[int],
                 frequency_threshold: int) -> tf.RaggedTensor:
    """Frequency-ordered vocabulary over ``tokens``; unknown tokens -> -1."""
    vocab = tft.vocabulary(tokens.flat_values, top_k=top_k,
                           frequency_threshold=frequency_threshold or None,
                           vocab_filename=vocab_name)
    ids = tft.apply_vocabulary(tokens.flat_values, vocab, default_value=features.PAD_ID)
    return tokens.with_flat_values(tf.cast(ids, tf.int64))


def _first_value(values: tf.RaggedTensor, default) -> tf.Tensor:
    """First value of every row of a ``[B, None]`` ragged tensor, ``default`` if empty."""
    return tf.reshape(values[:, :1].to_tensor(default_value=default, shape=[None, 1]), [-1])


def _to_ragged(x: TensorLike) -> tf.RaggedTensor:
    """Any ``[B]`` / ``[B, n]`` dense, sparse or ragged tensor -> ``[B, None]`` ragged."""
    if isinstance(x, tf.RaggedTensor):
        return x if x.ragged_rank == 1 else x.merge_dims(1, -1)
    if isinstance(x, tf.SparseTensor):
        if x.shape.rank == 1:
            x = tf.sparse.expand_dims(x, 1)
        return tf.RaggedTensor.from_sparse(tf.sparse.reorder(x))
    x = tf.convert_to_tensor(x)
    if x.shape.rank == 1:
        x = tf.expand_dims(x, 1)
    if x.shape.rank != 2:
        raise ValueError(f"expected a [batch] or [batch, n] tensor, got shape {x.shape}")
    return tf.RaggedTensor.from_tensor(x)


def _to_ragged_strings(x: TensorLike) -> tf.RaggedTensor:
    """Like ``_to_ragged`` with numbers cast to strings (floats in shortest form)."""
    ragged = _to_ragged(x)
    if ragged.dtype == tf.string:
        return ragged
    shortest = ragged.dtype.is_floating
    return tf.ragged.map_flat_values(tf.strings.as_string, ragged, shortest=shortest)


def _drop_empty(tokens: tf.RaggedTensor) -> tf.RaggedTensor:
    """Removes empty strings (missing CSV cells, empty multi-valued cells)."""
    return tf.ragged.boolean_mask(tokens, tf.strings.length(tokens) > 0)
