"""Optimizers of the supernet and of the retrained model: Adam, or lazy Adam for sparse tables.

Keras 2's ``Adam`` decays both moments of a whole variable on every step, also when the
gradient is an ``IndexedSlices`` (an embedding table looked up with ``tf.gather``), so each
step costs time proportional to the table's rows, not to the rows the batch touches.
``LazyAdam`` updates the moments and the weights of the touched rows only (the lazy Adam of
TensorFlow Addons): per-step work follows the batch, and rows no batch touched keep their
values and slots exactly. Dense gradients (tower, projections) get Adam's update unchanged.
Rows that go untouched for a while miss the decay of their moments that Adam would have
applied, so the two differ on rare ids; ``make`` selects either by name. The default,
"auto", is Adam while every table has at most ``LAZY_ADAM_ROWS`` rows and lazy Adam above,
where Adam's step cost grows with the table (docs/decisions.md#lazy-adam).

Example::

    optimizer = make("auto", learning_rate=1e-3, table_rows=1_000_000)   # lazy Adam
"""
from __future__ import annotations

import tensorflow as tf

OPTIMIZERS = ("auto", "lazy_adam", "adam")
DEFAULT_OPTIMIZER = "auto"
LAZY_ADAM_ROWS = 20_000  # "auto": lazy Adam once a table has more rows than this


def resolve(name: str, table_rows: int) -> str:
    """The optimizer ``name`` stands for: "auto" is lazy Adam when the largest table (or
    softmax) has more than ``LAZY_ADAM_ROWS`` rows, else Adam; other names stand for themselves."""
    if name != "auto":
        return name
    return "lazy_adam" if table_rows > LAZY_ADAM_ROWS else "adam"


@tf.keras.utils.register_keras_serializable(package="nis")
class LazyAdam(tf.keras.optimizers.Adam):
    """Adam whose sparse (``IndexedSlices``) updates touch only the gradient's rows.

    For a sparse gradient ``g`` on rows ``i`` (duplicates are summed first by
    ``apply_gradients``), with Adam's bias-corrected step size ``alpha``::

        m[i] = beta_1 m[i] + (1 - beta_1) g
        v[i] = beta_2 v[i] + (1 - beta_2) g^2
        w[i] -= alpha m[i] / (sqrt(v[i]) + epsilon)

    and every other row of ``w``, ``m`` and ``v`` is left as it is. Registered with Keras, so
    ``tf.keras.models.load_model`` restores a model compiled with it.
    """

    def __init__(self, learning_rate=1e-3, name: str = "LazyAdam", **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if self.amsgrad:
            raise ValueError("LazyAdam does not support amsgrad; use optimizer='adam'")

    def update_step(self, gradient, variable):
        """Adam's step for dense gradients; the lazy row update for ``IndexedSlices``."""
        if not isinstance(gradient, tf.IndexedSlices):
            return super().update_step(gradient, variable)
        dtype = variable.dtype
        lr = tf.cast(self.learning_rate, dtype)
        local_step = tf.cast(self.iterations + 1, dtype)
        beta_1_power = tf.pow(tf.cast(self.beta_1, dtype), local_step)
        beta_2_power = tf.pow(tf.cast(self.beta_2, dtype), local_step)
        alpha = lr * tf.sqrt(1 - beta_2_power) / (1 - beta_1_power)
        epsilon = self.epsilon * tf.sqrt(1 - beta_2_power) if self.adaptive_epsilon else self.epsilon

        var_key = self._var_key(variable)
        m = self._momentums[self._index_dict[var_key]]
        v = self._velocities[self._index_dict[var_key]]
        rows, values = gradient.indices, gradient.values
        m_rows, v_rows = tf.gather(m, rows), tf.gather(v, rows)  # Adam's dense update, on rows
        m_rows += (values - m_rows) * (1 - self.beta_1)
        v_rows += (tf.square(values) - v_rows) * (1 - self.beta_2)
        m.scatter_update(tf.IndexedSlices(m_rows, rows))
        v.scatter_update(tf.IndexedSlices(v_rows, rows))
        variable.scatter_sub(tf.IndexedSlices(m_rows * alpha / (tf.sqrt(v_rows) + epsilon), rows))


def make(name: str, learning_rate: float, table_rows: int = 0) -> tf.keras.optimizers.Optimizer:
    """The optimizer called ``name`` (one of ``OPTIMIZERS``) at ``learning_rate``;
    ``table_rows`` (rows of the largest table) decides what "auto" is (``resolve``)."""
    name = resolve(name, table_rows)
    if name == "lazy_adam":
        return LazyAdam(learning_rate)
    if name == "adam":
        return tf.keras.optimizers.Adam(learning_rate)
    raise ValueError(f"unknown optimizer {name!r}; expected one of {OPTIMIZERS}")
