"""Tests of the fixed-size models built from an MES and of the hand-sized baselines."""
import numpy as np
import pytest
import tensorflow as tf

import planted_data as pdata
from trainer_module.spec.baselines import explicit_se_spec, per_feature_se_spec, uniform_se_spec
from trainer_module.model.models import build_model, embedding_params, embedding_table_params
from trainer_module.spec.mes import ModelSpec


def test_ranking_model_trains_and_has_exactly_the_mes_tables():
    spec = ModelSpec(budget=20_000, mode="ME", features={
        "signal": [(300, 16), (1700, 4)], "context": [(50, 8)], "noise": []})
    model = build_model(pdata.DATASET, spec, hidden_units=(32, 16, 8))
    train = pdata.dataset(pdata.ranking_arrays(20_000, 0), 256)
    val = pdata.dataset(pdata.ranking_arrays(4000, 1), 1000, repeat=False)
    model.fit(train, steps_per_epoch=150, epochs=1, verbose=0)
    auc = model.evaluate(val, verbose=0, return_dict=True)["auc"]
    assert auc > 0.6
    assert embedding_table_params(model) == spec.table_floats() == 300 * 16 + 1700 * 4 + 50 * 8
    assert embedding_params(model) == spec.cost() == spec.table_floats() + 4 * 16  # + P_2
    assert "me_noise" not in [l.name for l in model.inputs_layer.embeddings.values()]
    assert model(next(iter(val))[0]).shape[1] == 1


def test_retrieval_model_sampled_softmax_training_and_full_softmax_recall():
    spec = ModelSpec(budget=60_000, mode="SE", features={
        "signal": [(2000, 16)], "noise": [], "bag": [(40, 4)]})
    model = build_model(pdata.RETRIEVAL_DATASET, spec, num_labels=300, hidden_units=(64, 64, 32),
                        learning_rate=5e-3)
    train = pdata.dataset(pdata.retrieval_arrays(30_000, 0), 256)
    val = pdata.dataset(pdata.retrieval_arrays(3000, 1), 500, repeat=False)
    before = model.evaluate(val, verbose=0, return_dict=True)
    model.fit(train, steps_per_epoch=300, epochs=1, verbose=0)
    after = model.evaluate(val, verbose=0, return_dict=True)
    assert after["recall_at_1"] > before["recall_at_1"] + 0.2
    assert after["recall_at_5"] >= after["recall_at_1"]
    logits = model(next(iter(val))[0])
    assert logits.shape[1] == 300


def test_mes_must_match_dataset_features():
    with pytest.raises(ValueError, match=r"unknown feature\(s\) \['zzz'\]"):
        build_model(pdata.DATASET, ModelSpec(100, "SE", {"signal": [(1, 1)], "context": [],
                                                          "noise": [], "zzz": [(1, 1)]}))
    with pytest.raises(ValueError, match=r"lacks feature\(s\) \['noise'\]"):
        build_model(pdata.DATASET, ModelSpec(100, "SE", {"signal": [(1, 1)], "context": []}))
    with pytest.raises(ValueError, match="num_labels"):
        build_model(pdata.RETRIEVAL_DATASET, ModelSpec(100, "SE", {"signal": [], "noise": [],
                                                                    "bag": [(2, 2)]}))


def test_uniform_baseline_fills_budget_evenly():
    spec = uniform_se_spec({"a": 1000, "b": 100}, budget=5500)
    assert spec.features["a"].entries == ((1000, 5),) and spec.features["b"].entries == ((100, 5),)
    narrow = uniform_se_spec({"a": 1000, "b": 100}, budget=4000, dim=8)
    assert narrow.features["b"].entries == ((100, 8),)           # small feature fully covered
    assert narrow.features["a"].entries == ((400, 8),)           # the rest goes to the big one
    assert narrow.cost() <= 4000


def test_per_feature_baseline_water_fills_at_each_width():
    vocab = {"a": 1000, "b": 100, "c": 3}
    spec = per_feature_se_spec(vocab, budget=3000, dims={"a": 2, "b": 8, "c": 0})
    assert spec.features["c"].removed                            # width 0 removes the feature
    assert spec.features["b"].entries == ((100, 8),)             # 800 floats cover all of b
    assert spec.features["a"].entries == ((1000, 2),)            # 2,000 of the 2,200 left
    tight = per_feature_se_spec(vocab, budget=1000, dims={"a": 4, "b": 2, "c": 16})
    assert tight.features["c"].entries == ((3, 16),)
    assert tight.features["b"].entries == ((100, 2),)
    assert tight.features["a"].entries == ((188, 4),)            # what the others leave: 752 floats
    assert tight.cost() <= 1000 and tight.metadata["dims"] == {"a": 4, "b": 2, "c": 16}
    for d in (1, 3, 8):  # the same fill as the uniform baseline at equal widths
        assert per_feature_se_spec(vocab, 2500, {n: d for n in vocab}).features == \
            uniform_se_spec(vocab, 2500, dim=d).features
    with pytest.raises(ValueError, match=r"missing for feature\(s\) \['c'\]"):
        per_feature_se_spec(vocab, 1000, {"a": 1, "b": 1})


def test_explicit_baseline_validates_sizes():
    spec = explicit_se_spec({"a": (10, 4)}, budget=100, vocab_sizes={"a": 20, "b": 5})
    assert spec.features["b"].removed and spec.cost() == 40
    with pytest.raises(ValueError, match="over the budget"):
        explicit_se_spec({"a": (20, 8)}, budget=100)
    with pytest.raises(ValueError, match="'a'.*exceeds"):
        explicit_se_spec({"a": (30, 1)}, budget=100, vocab_sizes={"a": 20})
