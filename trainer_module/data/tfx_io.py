"""Reading TFX-transformed examples into tf.data, and picking a distribution strategy.

Shared by the NeuralInputSearch executor and the Trainer ``run_fn``. The
transformed examples that TFX's Transform writes are gzipped TFRecords of
``tf.Example`` protos; they are parsed with the transform output's
``transformed_feature_spec()`` and yield ``(features, labels)`` as the search
and the models expect (``features[name]`` int64 ``[B, max_len]``, labels int64
``[B]``; see ``trainer_module/data/features.py``).

Example::

    tft_out = tft.TFTransformOutput(transform_graph_uri)
    ds = input_fn(["<examples>/Split-train/*"], tft_out, dataset_config, batch_size=256)
    strategy = make_strategy("mirrored")
"""
from __future__ import annotations

from typing import Dict, Mapping, Optional, Sequence, Union

import tensorflow as tf
import tensorflow_transform as tft

from trainer_module import distribute as cluster
from trainer_module.config_fields import check_at_least, check_value
from trainer_module.data.features import LABEL_KEY, DatasetConfig

STRATEGIES = cluster.STRATEGIES
# custom_config key -> make_strategy argument: the parameter-server partitioner's settings.
SHARD_OPTION_KEYS = {"ps_min_shard_bytes": "min_shard_bytes", "ps_max_shard_bytes": "max_shard_bytes"}
TransformOutputOrPath = Union[tft.TFTransformOutput, str]


def transform_output(tf_transform_output: TransformOutputOrPath) -> tft.TFTransformOutput:
    if isinstance(tf_transform_output, str):
        return tft.TFTransformOutput(tf_transform_output)
    return tf_transform_output


def feature_spec(tf_transform_output: Union[TransformOutputOrPath, Mapping],
                 dataset: DatasetConfig) -> Dict[str, tf.io.FixedLenFeature]:
    """The transformed spec of the dataset's features and the label (nothing else)."""
    spec = (dict(tf_transform_output) if isinstance(tf_transform_output, Mapping)
            else transform_output(tf_transform_output).transformed_feature_spec())
    missing = [k for k in dataset.names + [LABEL_KEY] if k not in spec]
    if missing:
        raise ValueError(f"transformed examples lack feature(s) {missing}; transformed keys: "
                         f"{sorted(spec)}")
    return {k: spec[k] for k in dataset.names + [LABEL_KEY]}


def _files(file_pattern: Union[str, Sequence[str]]) -> list:
    patterns = [file_pattern] if isinstance(file_pattern, str) else list(file_pattern)
    files = sorted(f for p in patterns for f in tf.io.gfile.glob(p))
    if not files:
        raise ValueError(f"no transformed example files match {patterns}")
    return files


def count_examples(file_pattern: Union[str, Sequence[str]]) -> int:
    """Records in the gzipped TFRecord files of ``file_pattern`` (one read of the split; no
    parsing), e.g. the train split's size that scales the search's length; counted in
    batches of 4,096 records (one reduce step per batch, not per record)."""
    ds = tf.data.TFRecordDataset(_files(file_pattern), compression_type="GZIP",
                                 num_parallel_reads=tf.data.AUTOTUNE)
    return int(ds.batch(4096).reduce(tf.constant(0, tf.int64),
                                     lambda n, b: n + tf.size(b, out_type=tf.int64)).numpy())


def input_fn(file_pattern: Union[str, Sequence[str]],
             tf_transform_output: Union[TransformOutputOrPath, Mapping],
             dataset: DatasetConfig,
             batch_size: int,
             shuffle: bool = True,
             repeat: bool = True,
             drop_unknown_labels: Optional[bool] = None,
             seed: Optional[int] = None,
             shuffle_buffer: int = 10_000) -> tf.data.Dataset:
    """Batches of ``(features, labels)`` from gzipped transformed TFRecords.

    Args:
      file_pattern: glob(s) of the transformed example files (e.g. ``<split uri>/*``).
      tf_transform_output: the Transform output (object or path), or a feature spec.
      dataset: which features to read.
      batch_size: examples per batch; every batch is full (``drop_remainder``), so
        a search's grouped rewards always see whole groups (without ``repeat`` a
        split smaller than one batch yields nothing).
      shuffle, repeat, seed, shuffle_buffer: usual tf.data behaviour.
      drop_unknown_labels: drop examples whose label id is -1 (out of the label
        vocabulary); default True for retrieval, False for ranking.
    """
    spec = feature_spec(tf_transform_output, dataset)
    if drop_unknown_labels is None:
        drop_unknown_labels = dataset.task == "retrieval"
    files = _files(file_pattern)
    ds = tf.data.Dataset.from_tensor_slices(files)
    if shuffle:
        ds = ds.shuffle(len(files), seed=seed)
    ds = ds.interleave(lambda f: tf.data.TFRecordDataset(f, compression_type="GZIP"),
                       cycle_length=min(len(files), 8), num_parallel_calls=tf.data.AUTOTUNE,
                       deterministic=seed is not None)
    if shuffle:
        ds = ds.shuffle(shuffle_buffer, seed=seed, reshuffle_each_iteration=True)
    if repeat:
        ds = ds.repeat()
    ds = ds.batch(batch_size, drop_remainder=True).map(
        lambda x: tf.io.parse_example(x, spec), num_parallel_calls=tf.data.AUTOTUNE)
    if drop_unknown_labels:
        ds = ds.unbatch().filter(lambda x: x[LABEL_KEY] >= 0).batch(batch_size, drop_remainder=True)

    def split(x):
        x = dict(x)
        label = tf.reshape(tf.cast(x.pop(LABEL_KEY), tf.int64), [-1])
        return {k: tf.cast(v, tf.int64) for k, v in x.items()}, label

    return ds.map(split, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE)


def shard_options(config: Mapping) -> Dict[str, int]:
    """``make_strategy``'s partitioner settings from a ``custom_config``
    (``SHARD_OPTION_KEYS``; absent or null ones keep the defaults), each a positive integer."""
    out = {}
    for key, arg in SHARD_OPTION_KEYS.items():
        value = check_value(config.get(key), Optional[int], f"custom_config[{key!r}]")
        check_at_least(f"custom_config[{key!r}]", value, 1)
        if value is not None:
            out[arg] = value
    return out


def make_strategy(name: str = "default", tpu: Optional[str] = None,
                  min_shard_bytes: int = cluster.DEFAULT_MIN_SHARD_BYTES,
                  max_shard_bytes: Optional[int] = None) -> tf.distribute.Strategy:
    """The strategy called ``name`` (one of ``STRATEGIES``).

    ``default`` (one device), ``mirrored`` (all local GPUs), ``tpu`` (TPUStrategy),
    ``parameter_server`` (``TF_CONFIG``'s cluster; tables split over the parameter servers
    by ``min_shard_bytes`` / ``max_shard_bytes``, see ``cluster.parameter_server_strategy``;
    on a worker or ps task this call serves and never returns) or ``multi_worker_mirrored``.
    """
    if name not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {name!r}")
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "tpu":
        resolver = tf.distribute.cluster_resolver.TPUClusterResolver(tpu=tpu or "")
        tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        return tf.distribute.TPUStrategy(resolver)
    if name == "parameter_server":
        return cluster.parameter_server_strategy(min_shard_bytes=min_shard_bytes,
                                                 max_shard_bytes=max_shard_bytes)
    if name == "multi_worker_mirrored":
        return cluster.multi_worker_mirrored_strategy()
    return tf.distribute.get_strategy()
