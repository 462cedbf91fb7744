"""Neural Input Search: the embedding search math and its TFX entry points.

Importing this package sets ``TF_USE_LEGACY_KERAS=1`` before TensorFlow is
imported, so ``tf.keras`` is Keras 2 (``tf_keras``) as TFX 1.16 requires. This is the one
place the variable is set: ``components``, ``pipelines`` and ``benchmarks`` import this
package first.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
