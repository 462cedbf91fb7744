"""Planted synthetic data for tests of the search (already in transformed, id form).

``signal`` (high cardinality, Zipf) carries a latent vector per id that, with the
``context`` feature's latent, decides the label: its head ids need wide
embeddings. ``noise`` is independent of everything.
"""
import numpy as np
import tensorflow as tf

from trainer_module.data.features import DatasetConfig, FeatureConfig

VOCAB = {"signal": 2000, "context": 50, "noise": 2000}
DATASET = DatasetConfig(task="ranking", label="y",
                        features=[FeatureConfig("signal"), FeatureConfig("context"),
                                  FeatureConfig("noise")])
RETRIEVAL_DATASET = DatasetConfig(task="retrieval", label="next",
                                  features=[FeatureConfig("signal"), FeatureConfig("noise"),
                                            FeatureConfig("bag", multivalent=True, max_len=3)])


def zipf_ids(rng, n, vocab, a=1.05):
    p = 1.0 / np.arange(1, vocab + 1) ** a
    return rng.choice(vocab, size=n, p=p / p.sum())


def ranking_arrays(n, seed=0, latent_dim=16):
    rng = np.random.default_rng(seed)
    latent_rng = np.random.default_rng(1234)  # the planted world is the same for every split
    u = latent_rng.normal(size=(VOCAB["signal"], latent_dim))
    w = latent_rng.normal(size=(VOCAB["context"], latent_dim))
    sig = zipf_ids(rng, n, VOCAB["signal"])
    ctx = rng.integers(0, VOCAB["context"], n)
    noise = rng.integers(0, VOCAB["noise"], n)
    logit = 1.5 * np.sum(u[sig] * w[ctx], axis=1) / np.sqrt(latent_dim) * 2.0
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    feats = {"signal": sig[:, None], "context": ctx[:, None], "noise": noise[:, None]}
    return {k: v.astype(np.int64) for k, v in feats.items()}, y


def retrieval_arrays(n, seed=0, num_labels=300):
    rng = np.random.default_rng(seed)
    sig = zipf_ids(rng, n, VOCAB["signal"])
    noise = rng.integers(0, VOCAB["noise"], n)
    bag = rng.integers(-1, 40, size=(n, 3))
    label = (sig * 7 + 3) % num_labels  # the signal id determines the label
    return ({"signal": sig[:, None].astype(np.int64), "noise": noise[:, None].astype(np.int64),
             "bag": bag.astype(np.int64)}, label.astype(np.int64))


def dataset(arrays, batch, repeat=True):
    ds = tf.data.Dataset.from_tensor_slices(arrays)
    if repeat:
        ds = ds.shuffle(10_000, seed=0).repeat()
    return ds.batch(batch, drop_remainder=True)
