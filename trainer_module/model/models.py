"""Ranking and retrieval models over any embedding input (supernet or fixed ME).

Both models concatenate the per-feature embeddings and feed three ReLU layers
(paper section 4). Ranking ends in a sigmoid unit trained with cross-entropy;
retrieval ends in a softmax over the label vocabulary, trained with a sampled
softmax (log-uniform negatives, logit correction) and evaluated with the full
softmax (Recall@1/@5).

* ``build_model(dataset, spec, ...)``: the fixed-size model retrained from an MES
  (compiled; call ``fit``). Its inputs are the transformed features dict.
* ``RankingModel`` / ``RetrievalModel`` over any inputs layer; the search builds its
  supernet from them (``trainer_module.search.supernet.build_supernet``).
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import tensorflow as tf

from trainer_module.model import optimizers
from trainer_module.defaults import DEFAULT_HIDDEN_UNITS
from trainer_module.model.embedding import MultiSizeEmbedding
from trainer_module.data.features import DatasetConfig
from trainer_module.model.sampled_softmax import sample_negatives, sampled_logits
from trainer_module.spec.mes import ModelSpec

DEFAULT_NUM_SAMPLED = 512


class FixedInputs(tf.keras.layers.Layer):
    """Concatenated fixed-size ME embeddings of every feature the MES keeps."""

    def __init__(self, spec_json: str, dataset_json: str, **kwargs):
        super().__init__(**kwargs)
        self.spec_json, self.dataset_json = spec_json, dataset_json
        spec, dataset = ModelSpec.from_json(spec_json), DatasetConfig.from_json(dataset_json)
        check_spec_matches(spec, dataset)
        self.embeddings = {
            name: MultiSizeEmbedding(spec.features[name].entries, dataset.feature(name).combiner,
                                     name=f"me_{name}")
            for name in dataset.names if not spec.features[name].removed}

    def call(self, features: Dict[str, tf.Tensor]) -> tf.Tensor:
        parts = [layer(features[name]) for name, layer in self.embeddings.items()]
        if not parts:  # every feature removed: the tower sees a constant input
            any_ids = next(iter(features.values()))
            return tf.zeros([tf.shape(any_ids)[0], 1])
        return tf.concat(parts, axis=-1)

    def get_config(self):
        config = super().get_config()
        config.update(spec_json=self.spec_json, dataset_json=self.dataset_json)
        return config


def check_spec_matches(spec: ModelSpec, dataset: DatasetConfig) -> None:
    """The MES must name exactly the dataset's features (removed ones with an empty list)."""
    unknown = sorted(set(spec.features) - set(dataset.names))
    if unknown:
        raise ValueError(f"MES names unknown feature(s) {unknown}; dataset features: {dataset.names}")
    missing = sorted(set(dataset.names) - set(spec.features))
    if missing:
        raise ValueError(f"MES lacks feature(s) {missing}; list removed features with an empty list")


class _Tower(tf.keras.layers.Layer):
    def __init__(self, hidden_units: Sequence[int], **kwargs):
        super().__init__(**kwargs)
        self.hidden_units = tuple(int(u) for u in hidden_units)
        self.dense = [tf.keras.layers.Dense(u, activation="relu") for u in self.hidden_units]

    def call(self, x):
        for layer in self.dense:
            x = layer(x)
        return x

    def get_config(self):
        return {**super().get_config(), "hidden_units": list(self.hidden_units)}


class RankingModel(tf.keras.Model):
    """Embeddings -> ReLU tower -> sigmoid probability ``[B, 1]``."""

    def __init__(self, inputs_layer: tf.keras.layers.Layer, hidden_units=DEFAULT_HIDDEN_UNITS, **kw):
        super().__init__(**kw)
        self.inputs_layer = inputs_layer
        self.tower = _Tower(hidden_units)
        self.out = tf.keras.layers.Dense(1)

    def logits(self, embedded: tf.Tensor) -> tf.Tensor:
        return tf.squeeze(self.out(self.tower(embedded)), -1)

    def forward(self, features, levels):
        """Supernet pass: logits ``[B]`` under per-example levels."""
        return self.logits(self.inputs_layer(features, levels))

    def call(self, features):
        return tf.sigmoid(self.logits(self.inputs_layer(features)))[:, None]


class RetrievalModel(tf.keras.Model):
    """Embeddings -> ReLU tower -> softmax over ``num_labels`` items."""

    def __init__(self, inputs_layer: tf.keras.layers.Layer, num_labels: int,
                 hidden_units=DEFAULT_HIDDEN_UNITS, num_sampled: int = DEFAULT_NUM_SAMPLED, **kw):
        super().__init__(**kw)
        if num_labels < 2:
            raise ValueError(f"retrieval needs at least 2 labels, got num_labels={num_labels}")
        self.inputs_layer = inputs_layer
        self.tower = _Tower(hidden_units)
        self.num_labels = int(num_labels)
        self.num_sampled = int(min(num_sampled, num_labels))
        width = self.tower.hidden_units[-1]
        self.label_weights = self.add_weight(name="label_weights", shape=(num_labels, width),
                                             initializer="glorot_uniform")
        self.label_bias = self.add_weight(name="label_bias", shape=(num_labels,), initializer="zeros")

    def hidden(self, embedded: tf.Tensor) -> tf.Tensor:
        return self.tower(embedded)

    def forward(self, features, levels):
        """Supernet pass: last hidden layer ``[B, h]`` under per-example levels."""
        return self.hidden(self.inputs_layer(features, levels))

    def full_logits(self, hidden: tf.Tensor) -> tf.Tensor:
        return tf.matmul(hidden, self.label_weights, transpose_b=True) + self.label_bias

    def call(self, features):
        return self.full_logits(self.hidden(self.inputs_layer(features)))

    def sampled_softmax_loss(self, hidden, labels, seed) -> tf.Tensor:
        """Mean sampled-softmax loss over examples with an in-vocabulary label."""
        labels = tf.reshape(tf.cast(labels, tf.int64), [-1])
        negatives, log_count = sample_negatives(self.num_sampled, self.num_labels, seed)
        true, neg = sampled_logits(hidden, labels, self.label_weights, self.label_bias, negatives)
        neg = neg - log_count[None, :]
        all_logits = tf.concat([true[:, None], neg], axis=1)
        per_example = tf.reduce_logsumexp(all_logits, axis=1) - true
        valid = tf.cast(labels >= 0, tf.float32)
        return tf.reduce_sum(per_example * valid) / tf.maximum(tf.reduce_sum(valid), 1.0)

    def train_step(self, data):
        features, labels = data[0], data[1]
        seed = tf.stack([tf.cast(self._train_counter, tf.int64), tf.constant(17, tf.int64)])
        with tf.GradientTape() as tape:
            loss = self.sampled_softmax_loss(self.hidden(self.inputs_layer(features, training=True)),
                                             labels, seed)
        self.optimizer.apply_gradients(zip(tape.gradient(loss, self.trainable_variables),
                                           self.trainable_variables))
        return {"loss": loss}

    def test_step(self, data):
        features, labels = data[0], tf.reshape(tf.cast(data[1], tf.int64), [-1])
        logits = self(features, training=False)
        weight = tf.cast(labels >= 0, tf.float32)
        self.compiled_metrics.update_state(tf.maximum(labels, 0), logits, sample_weight=weight)
        return {m.name: m.result() for m in self.metrics}


def recall_metrics():
    return [tf.keras.metrics.SparseTopKCategoricalAccuracy(k=1, name="recall_at_1"),
            tf.keras.metrics.SparseTopKCategoricalAccuracy(k=5, name="recall_at_5")]


def build_model(dataset: DatasetConfig, spec: ModelSpec, num_labels: Optional[int] = None,
                hidden_units: Sequence[int] = DEFAULT_HIDDEN_UNITS,
                learning_rate: float = 1e-3, steps_per_execution: int = 1,
                optimizer: str = optimizers.DEFAULT_OPTIMIZER) -> tf.keras.Model:
    """The compiled fixed-size model of ``spec``.

    Its embedding layers hold exactly ``spec.table_floats() + spec.projection_floats()``
    floats (``spec.cost()`` under exact accounting). ``steps_per_execution`` > 1 runs that
    many training steps per call of the compiled train function (the same updates, less
    Python overhead per step); use it when every epoch has a known number of steps.
    ``optimizer`` names an ``optimizers.OPTIMIZERS`` entry ("lazy_adam" updates only the
    table rows a batch touches; "adam" is Keras' Adam; "auto" picks by the largest table).
    """
    inputs = FixedInputs(spec.to_json(), dataset.to_json(), name="embeddings")
    rows = max([f.vocab_size for f in spec.features.values()] + [num_labels or 0])
    optimizer = optimizers.make(optimizer, learning_rate, rows)
    if dataset.task == "ranking":
        model = RankingModel(inputs, hidden_units, name="nis_ranking")
        model.compile(optimizer=optimizer, loss=tf.keras.losses.BinaryCrossentropy(),
                      metrics=[tf.keras.metrics.AUC(name="auc")],
                      steps_per_execution=steps_per_execution)
    else:
        if num_labels is None:
            raise ValueError("retrieval models need num_labels (the label vocabulary size)")
        model = RetrievalModel(inputs, num_labels, hidden_units, name="nis_retrieval")
        model.compile(optimizer=optimizer, metrics=recall_metrics(),
                      steps_per_execution=steps_per_execution)
    return model


def embedding_table_params(model: tf.keras.Model) -> int:
    """Floats in the ME tables ``E_m`` of a fixed model (compare with ``spec.table_floats()``)."""
    return sum(layer.table_params() for layer in model.inputs_layer.embeddings.values())


def embedding_params(model: tf.keras.Model) -> int:
    """Floats in every variable of a fixed model's embedding layers, tables and projections
    (what it serves per embedding; compare with ``spec.cost()`` under exact accounting)."""
    return sum(int(w.shape.num_elements()) for layer in model.inputs_layer.embeddings.values()
               for w in layer.weights)
