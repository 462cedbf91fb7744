"""SavedModel signatures of the trained models: raw serialized ``tf.Example``s in.

Every signature takes one input, ``examples`` (a ``[B]`` string tensor of serialized raw
``tf.Example``s, the label left out); the TF Transform layer runs inside the model.

* ``serving_default``:

  * ranking: ``{'probability': [B, 1]}``;
  * retrieval: the top-K items, as TensorFlow Recommenders' retrieval indexes return
    them: ``{'item_ids': [B, K] string, 'scores': [B, K] float}``, the item ids being
    the strings of the label vocabulary of the TF Transform output and the scores their
    softmax probability over the whole vocabulary, highest first. K is
    ``custom_config['serving_top_k']`` (``DEFAULT_TOP_K``; at most the vocabulary size).
    Items of the request's history feature (see ``history_feature``) are never
    returned; when fewer than K items remain, the rest of the row is ``''`` with score 0.

* ``serving_scores`` (retrieval only): ``{'scores': [B, num_labels]}``, the softmax
  over the full label vocabulary (id order of the vocabulary); TFMA computes Recall@K
  from it (``components/mes_trainer/eval_config.py``).
* ``transformed_features``: raw examples (label included) -> the transformed dict;
  TFMA reads the label id from it.
"""
from __future__ import annotations

from typing import Any, Dict, Optional

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging

from trainer_module.data import preprocessing
from trainer_module.data.features import LABEL_VOCAB, PAD_ID, DatasetConfig

SERVING_SIGNATURE = "serving_default"
SCORES_SIGNATURE = "serving_scores"
TRANSFORM_SIGNATURE = "transformed_features"
RANKING_OUTPUT = "probability"
RETRIEVAL_OUTPUT = "scores"
ITEM_IDS_OUTPUT = "item_ids"
HISTORY_KEY = "serving_history_feature"
DEFAULT_TOP_K = 10
DEFAULT_HISTORY_FEATURE = "history"


def history_feature(name: Optional[str], dataset: DatasetConfig,
                    label: str = HISTORY_KEY) -> Optional[str]:
    """The feature whose items the retrieval ``serving_default`` never returns, or None.

    ``name`` (``custom_config['serving_history_feature']``): None picks the multi-valued
    feature named ``history`` when the dataset has one (what the synthetic and MovieLens
    converters write); ``''`` turns the exclusion off; any other name must be a multi-valued
    feature of the dataset. The exclusion is on by default because a retrieval request asks
    for items the user has not had yet (the MovieLens next-item label is never in its history).

    Raises:
      ValueError: ``name`` is not a multi-valued feature of the dataset (``label`` names it).
    """
    bags = [f.name for f in dataset.features if f.multivalent]
    if name is None:
        return DEFAULT_HISTORY_FEATURE if DEFAULT_HISTORY_FEATURE in bags else None
    if not isinstance(name, str):
        raise ValueError(f"{label} must be a feature name or '', got {name!r}")
    if name and name not in bags:
        raise ValueError(f"{label} {name!r} is not a multi-valued feature of the dataset "
                         f"(multi-valued features: {bags})")
    return name or None


class LabelVocabulary(tf.Module):
    """Both directions of the label vocabulary file (line number = label id), as lookup tables.

    Tracked by the exported model, so the vocabulary file travels as a SavedModel asset.
    """

    def __init__(self, path: str, name: str = "label_vocabulary"):
        super().__init__(name=name)
        index = tf.lookup.TextFileIndex
        whole_line, line_number = index.WHOLE_LINE, index.LINE_NUMBER
        self.ids = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(path, tf.string, whole_line, tf.int64, line_number),
            default_value=PAD_ID)
        self.names = tf.lookup.StaticHashTable(
            tf.lookup.TextFileInitializer(path, tf.int64, line_number, tf.string, whole_line),
            default_value="")


def top_items(scores: tf.Tensor, k: int, vocabulary: LabelVocabulary,
              excluded: Optional[tf.RaggedTensor] = None) -> Dict[str, tf.Tensor]:
    """The ``k`` best items of each row of ``scores`` ``[B, num_labels]``, highest first.

    Args:
      scores: per-item scores in label-id order.
      k: items per row (at most ``num_labels``).
      vocabulary: the label vocabulary (ids -> item strings).
      excluded: ``[B, None]`` item strings never returned for their row (unknown ones ignored).

    Returns:
      ``{'item_ids': [B, k] string, 'scores': [B, k] float}``; slots left when fewer than
      ``k`` items remain hold ``''`` and 0.
    """
    if excluded is not None:
        ids = tf.ragged.map_flat_values(vocabulary.ids.lookup, excluded)
        ids = tf.ragged.boolean_mask(ids, ids >= 0)
        where = tf.stack([ids.value_rowids(), ids.flat_values], axis=1)
        scores = tf.tensor_scatter_nd_update(
            scores, where, tf.fill(tf.shape(ids.flat_values), float("-inf")))
    best, best_ids = tf.math.top_k(scores, k=k)
    kept = tf.math.is_finite(best)
    names = vocabulary.names.lookup(tf.cast(best_ids, tf.int64))
    return {ITEM_IDS_OUTPUT: tf.where(kept, names, ""),
            RETRIEVAL_OUTPUT: tf.where(kept, best, tf.zeros_like(best))}


def _raw_spec(tft_out: tft.TFTransformOutput, dataset: DatasetConfig, with_label: bool) -> Dict:
    spec = dict(tft_out.raw_feature_spec())
    if not with_label:
        spec.pop(dataset.label, None)
    return spec


def signatures(model: tf.keras.Model, tft_out: tft.TFTransformOutput, dataset: DatasetConfig,
               top_k: int = DEFAULT_TOP_K, history: Optional[str] = None) -> Dict[str, Any]:
    """The concrete functions to export with ``model`` (see the module docstring).

    Args:
      model: the trained ranking or retrieval model (inputs: the transformed features).
      tft_out: the TF Transform output the model was trained on.
      dataset: the dataset config.
      top_k: retrieval: items per request (capped at the label vocabulary's size).
      history: retrieval: the multi-valued feature whose items are never returned
        (``history_feature``'s answer; None: every item may be returned).
    """
    model.tft_layer = tft_out.transform_features_layer()
    examples = tf.TensorSpec([None], tf.string, name="examples")
    serving_spec = _raw_spec(tft_out, dataset, with_label=False)
    full_spec = _raw_spec(tft_out, dataset, with_label=True)

    def predict(raw):
        transformed = model.tft_layer(raw)
        return model({n: tf.cast(transformed[n], tf.int64) for n in dataset.names})

    @tf.function(input_signature=[examples])
    def transform(serialized):
        return model.tft_layer(tf.io.parse_example(serialized, full_spec))

    out = {TRANSFORM_SIGNATURE: transform.get_concrete_function()}
    if dataset.task == "ranking":
        @tf.function(input_signature=[examples])
        def serve(serialized):
            return {RANKING_OUTPUT: predict(tf.io.parse_example(serialized, serving_spec))}

        out[SERVING_SIGNATURE] = serve.get_concrete_function()
        return out

    model.label_vocabulary = LabelVocabulary(tft_out.vocabulary_file_by_name(LABEL_VOCAB))
    num_labels = int(tft_out.vocabulary_size_by_name(LABEL_VOCAB))
    k = min(int(top_k), num_labels)
    logging.info("retrieval serving_default: top %d of %d items%s", k, num_labels,
                 f", excluding the request's {history!r} items" if history else "")

    @tf.function(input_signature=[examples])
    def scores(serialized):
        raw = tf.io.parse_example(serialized, serving_spec)
        return {RETRIEVAL_OUTPUT: tf.nn.softmax(predict(raw), axis=-1)}

    @tf.function(input_signature=[examples])
    def serve_top_k(serialized):
        raw = tf.io.parse_example(serialized, serving_spec)
        excluded = (preprocessing.raw_tokens(raw[history], dataset.feature(history))
                    if history else None)
        return top_items(tf.nn.softmax(predict(raw), axis=-1), k, model.label_vocabulary, excluded)

    out[SERVING_SIGNATURE] = serve_top_k.get_concrete_function()
    out[SCORES_SIGNATURE] = scores.get_concrete_function()
    return out
