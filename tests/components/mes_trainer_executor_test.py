"""MesTrainer executor + run_fn: SavedModel serving raw tf.Examples; TFMA Recall@K for retrieval."""
import glob
import json
import os

import numpy as np
import pytest
import tensorflow as tf
from tfx.proto import trainer_pb2
from tfx.types import standard_artifacts
from tfx.utils import path_utils, proto_utils

from components import artifacts
from components.artifacts import MultiSizeEmbeddingSpec
from components.mes_trainer import executor as mes_executor
from components.mes_trainer.eval_config import make_eval_config
from trainer_module.spec.mes import FeatureMES, ModelSpec

CONFIG = {"train_batch_size": 16, "eval_batch_size": 16, "hidden_units": [16]}


def _train(data, make_artifacts, tmp_path, mes_spec=None, train_steps=6, eval_steps=2, **config):
    examples, graph = make_artifacts(data)
    inputs = {"examples": [examples], "transform_graph": [graph]}
    if mes_spec is not None:
        mes = MultiSizeEmbeddingSpec()
        mes.uri = str(tmp_path / "mes")
        artifacts.write_mes(mes, mes_spec)
        inputs["embedding_spec"] = [mes]
    model, run = standard_artifacts.Model(), standard_artifacts.ModelRun()
    model.uri, run.uri = str(tmp_path / "model"), str(tmp_path / "model_run")
    props = {"run_fn": "trainer_module.model.trainer.run_fn",
             "train_args": proto_utils.proto_to_json(trainer_pb2.TrainArgs(num_steps=train_steps)),
             "eval_args": proto_utils.proto_to_json(trainer_pb2.EvalArgs(num_steps=eval_steps)),
             "custom_config": json.dumps({"dataset": data.dataset.to_dict(), **CONFIG, **config})}
    mes_executor.Executor().Do(inputs, {"model": [model], "model_run": [run]}, props)
    with open(os.path.join(run.uri, "mes_summary.json")) as f:
        summary = json.load(f)
    return path_utils.serving_model_dir(model.uri), summary


def _raw_eval(data, with_label=True):
    rows = [dict(r) for r in data.eval_rows]
    if not with_label:
        for r in rows:
            r.pop(data.dataset.label)
    return tf.constant([data.to_example(r) for r in rows])


def test_mes_model_serves_raw_examples(tiny_data, make_artifacts, tmp_path):
    data = tiny_data("ranking")
    spec = ModelSpec(budget=600, mode="ME", features={
        "user": FeatureMES([(2, 8), (6, 4)]), "item": FeatureMES([(4, 8)]), "genres": FeatureMES([])})
    serving_dir, summary = _train(data, make_artifacts, tmp_path, spec)
    assert summary["embedding_table_params"] == spec.table_floats()
    assert summary["mes"]["genres"] == [] and summary["baseline"] is None

    loaded = tf.saved_model.load(serving_dir)
    # Every variable of the exported model's embedding layers (tables E_m and projections P_m)
    # is counted by the MES's total, and the total fits the budget.
    served = sum(int(v.shape.num_elements()) for layer in loaded.inputs_layer.embeddings.values()
                 for v in layer.variables)
    assert any("P_2" in v.name for v in loaded.inputs_layer.embeddings["user"].variables)
    assert served == spec.cost() == spec.to_dict()["costs"]["total_floats"] <= spec.budget
    assert served == summary["embedding_cost"] == summary["embedding_params"]
    assert {"serving_default", "transformed_features"} <= set(loaded.signatures)
    out = loaded.signatures["serving_default"](examples=_raw_eval(data, with_label=False))
    prob = out["probability"].numpy()
    assert prob.shape == (len(data.eval_rows), 1) and np.all((prob >= 0) & (prob <= 1))
    transformed = loaded.signatures["transformed_features"](examples=_raw_eval(data))
    assert set(transformed["label"].numpy()) <= {0, 1}


def test_several_steps_per_call_train_the_same_model(tiny_data, make_artifacts, tmp_path):
    # Whole passes over both splits (no step caps): at 64 steps per call the splits are
    # counted so that Keras can run them; the updates are those of one step per call.
    data = tiny_data("ranking")
    raw = _raw_eval(data)
    out = {}
    for spe in (1, 64):
        tf.keras.utils.set_random_seed(0)  # the same initial weights
        serving_dir, _ = _train(data, make_artifacts, tmp_path / str(spe), budget=600, train_steps=0,
                                eval_steps=0, steps_per_execution=spe, max_epochs=1, seed=0)
        with open(os.path.join(tmp_path / str(spe) / "model_run", "training.json")) as f:
            record = json.load(f)
        probs = tf.saved_model.load(serving_dir).signatures["serving_default"](examples=raw)
        out[spe] = (record["steps"], record["curve"], probs["probability"].numpy())
    assert out[64][0] == out[1][0] > 0 and out[64][1] == out[1][1]
    np.testing.assert_array_equal(out[64][2], out[1][2])


def test_a_split_smaller_than_one_batch_is_refused_by_name(tiny_data, make_artifacts, tmp_path):
    with pytest.raises(ValueError, match="the eval split has .* fewer than one batch of 4096"):
        _train(tiny_data("ranking"), make_artifacts, tmp_path, budget=600, train_steps=0, eval_steps=0,
               eval_batch_size=4096, steps_per_execution=8)


def test_mes_uri_is_passed_only_when_wired():
    mes = MultiSizeEmbeddingSpec()
    mes.uri = "/x/mes"
    assert mes_executor.with_mes_uri({"a": 1}, {"embedding_spec": [mes]}) == \
        {"a": 1, "mes_uri": "/x/mes/mes.json"}
    assert mes_executor.with_mes_uri(None, {}) == {}


def _recall_at(scores, labels, k):
    keep = labels >= 0
    topk = np.argsort(-scores[keep], axis=1)[:, :k]
    return float(np.mean([lab in row for lab, row in zip(labels[keep], topk)]))


def test_baseline_retrieval_model_and_tfma_recall_at_k(tiny_data, make_artifacts, tmp_path):
    import tensorflow_model_analysis as tfma
    data = tiny_data("retrieval")
    serving_dir, summary = _train(data, make_artifacts, tmp_path, budget=300)
    assert summary["baseline"] == "uniform_se" and summary["embedding_cost"] <= 300

    loaded = tf.saved_model.load(serving_dir)
    scores = loaded.signatures["serving_scores"](examples=_raw_eval(data, False))["scores"].numpy()
    labels = loaded.signatures["transformed_features"](examples=_raw_eval(data))["label"].numpy()
    assert scores.shape[1] > 5 and np.allclose(scores.sum(axis=1), 1.0, atol=1e-4)

    eval_config = make_eval_config("retrieval")
    shared = tfma.default_eval_shared_model(serving_dir, eval_config=eval_config,
                                            model_name="candidate")
    result = tfma.run_model_analysis(
        eval_shared_model=shared, eval_config=eval_config, output_path=str(tmp_path / "tfma"),
        data_location=glob.glob(os.path.join(data.raw_examples, "Split-eval", "*"))[0],
        file_format="tfrecords")
    # slicing_metrics: [(slice, {output: {sub_key ('' or 'topK:5'): {metric: value}}})]
    metrics = {name: value["doubleValue"]
               for by_sub_key in result.slicing_metrics[0][1][""].values()
               for name, value in by_sub_key.items()}
    for k in (1, 5):
        assert metrics[f"recall_at_{k}"] == pytest.approx(_recall_at(scores, labels, k), abs=1e-6)
    assert metrics["recall_at_5"] >= metrics["recall_at_1"]

    # The ServingEvaluator's shape of run: a baseline (the serving model; here the same export)
    # read through serving_scores too, a value and a change threshold, then BlessingGate's read.
    from components.gates import blessing
    from components.mes_trainer.eval_config import key_metric
    eval_config = make_eval_config("retrieval", with_baseline=True, min_value=0.0,
                                   max_regression=0.0)
    models = [tfma.default_eval_shared_model(serving_dir, eval_config=eval_config, model_name=name)
              for name in ("candidate", "baseline")]
    tfma.run_model_analysis(
        eval_shared_model=models, eval_config=eval_config, output_path=str(tmp_path / "served"),
        data_location=glob.glob(os.path.join(data.raw_examples, "Split-eval", "*"))[0],
        file_format="tfrecords")
    assert tfma.load_validation_result(str(tmp_path / "served")).validation_ok
    read = blessing.read_metrics(str(tmp_path / "served"))
    assert read["candidate"]["recall_at_5"] == read["baseline"]["recall_at_5"] == \
        pytest.approx(metrics["recall_at_5"])
    assert blessing.metric_problem(read["candidate"], key_metric("retrieval")) == ""


def _label_vocabulary(data):
    import tensorflow_transform as tft
    from trainer_module.data.features import LABEL_VOCAB
    with open(tft.TFTransformOutput(data.transform_graph).vocabulary_file_by_name(LABEL_VOCAB)) as f:
        return [line.rstrip("\n") for line in f]


def _expected_top(scores, vocab, k, excluded_rows=None):
    """The k best vocabulary strings of each row of ``scores``, minus each row's excluded items."""
    out = []
    for i, row in enumerate(scores):
        banned = set(excluded_rows[i]) if excluded_rows is not None else set()
        order = [j for j in np.argsort(-row, kind="stable") if vocab[j] not in banned]
        out.append([vocab[j] for j in order[:k]])
    return out


@pytest.mark.parametrize("config, k, exclude", [
    ({"serving_top_k": 4}, 4, True),  # the dataset's history feature: excluded by default
    ({"serving_history_feature": ""}, 10, False),  # default K, exclusion off
])
def test_retrieval_serving_default_returns_the_top_k_vocabulary_items(
        tiny_data, make_artifacts, tmp_path, config, k, exclude):
    data = tiny_data("retrieval_history")
    serving_dir, _ = _train(data, make_artifacts, tmp_path, budget=300, **config)
    loaded = tf.saved_model.load(serving_dir)
    assert {"serving_default", "serving_scores", "transformed_features"} <= set(loaded.signatures)
    raw = _raw_eval(data, with_label=False)
    top = loaded.signatures["serving_default"](examples=raw)
    ids = [[v.decode() for v in row] for row in top["item_ids"].numpy()]
    scores = top["scores"].numpy()
    full = loaded.signatures["serving_scores"](examples=raw)["scores"].numpy()
    vocab = _label_vocabulary(data)
    assert len(vocab) > k and scores.shape == (len(data.eval_rows), k) and len(ids[0]) == k
    assert all(i in vocab for row in ids for i in row)  # the label vocabulary's strings
    assert np.all(np.diff(scores, axis=1) <= 0)  # best first
    # The scores are the items' softmax probabilities over the whole vocabulary.
    np.testing.assert_allclose(
        scores, [[full[r][vocab.index(i)] for i in row] for r, row in enumerate(ids)], rtol=1e-6)
    history = [r["history"].split("|") if r["history"] else [] for r in data.eval_rows]
    assert any(history)
    hit = [bool(set(row) & set(h)) for row, h in zip(ids, history)]
    if exclude:
        assert not any(hit)
        assert ids == _expected_top(full, vocab, k, history)
    else:
        assert any(hit)  # history items are returned when the exclusion is off
        assert ids == _expected_top(full, vocab, k)


def test_serving_options_are_checked_before_training():
    from trainer_module.data.features import DatasetConfig, FeatureConfig
    from trainer_module.model.trainer_config import TrainerConfig
    dataset = DatasetConfig(task="retrieval", label="next", features=[
        FeatureConfig("user"), FeatureConfig("history", multivalent=True, max_len=3),
        FeatureConfig("tags", multivalent=True, max_len=3)])

    def config(**options):
        return TrainerConfig.from_custom_config({"dataset": dataset.to_dict(), **options})

    assert (config().serving_top_k, config(serving_top_k=3).serving_top_k) == (10, 3)
    assert config().history_feature == "history"  # the dataset's history bag, by default
    assert config(serving_history_feature="tags").history_feature == "tags"
    assert config(serving_history_feature="").history_feature is None
    no_history = DatasetConfig(task="retrieval", label="next", features=[FeatureConfig("user")])
    assert TrainerConfig.from_custom_config({"dataset": no_history.to_dict()}).history_feature is None
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="serving_top_k"):
            config(serving_top_k=bad)
    with pytest.raises(ValueError, match=r"custom_config\['serving_history_feature'\] 'user' is "
                                         "not a multi-valued feature"):
        config(serving_history_feature="user")


def test_checkpoint_dir_is_stable_per_inputs_and_settings(tmp_path):
    from tfx.proto.orchestration import pipeline_pb2
    import types as pytypes

    def mes(uri, budget):
        a = MultiSizeEmbeddingSpec()
        a.uri = str(tmp_path / uri)
        artifacts.write_mes(a, ModelSpec(budget=budget, mode="ME",
                                         features={"user": FeatureMES([(2, 8)])}))
        return a

    examples = standard_artifacts.Examples()
    examples.uri = str(tmp_path / "examples")
    props = {"run_fn": "trainer_module.model.trainer.run_fn",
             "train_args": proto_utils.proto_to_json(trainer_pb2.TrainArgs(num_steps=6)),
             "custom_config": json.dumps({"budget": 600})}
    config = {"budget": 600, "checkpoint_root": str(tmp_path / "root")}
    inputs = {"examples": [examples], "embedding_spec": [mes("mes", 600)]}

    def where(inputs=inputs, props=props, config=config, outputs=None):
        return mes_executor.with_checkpoint_dir(config, inputs, outputs or {}, props)

    first = where()
    assert os.path.dirname(first["checkpoint_dir"]) == str(tmp_path / "root")
    assert "checkpoint_root" not in first and first["budget"] == 600
    assert where()["checkpoint_dir"] == first["checkpoint_dir"]
    others = {where(inputs={**inputs, "embedding_spec": [mes("mes2", 700)]})["checkpoint_dir"],
              where(props={**props, "train_args": proto_utils.proto_to_json(
                  trainer_pb2.TrainArgs(num_steps=7))})["checkpoint_dir"],
              where(props={**props, "custom_config": json.dumps({"budget": 601})})["checkpoint_dir"]}
    assert len(others) == 3 and first["checkpoint_dir"] not in others
    assert where(config={**config, "checkpoint_dir": "/mine"})["checkpoint_dir"] == "/mine"
    assert "checkpoint_dir" not in where(config={"budget": 600})  # no root known
    # Under a TFX launcher the root is derived from the output layout.
    node = pipeline_pb2.PipelineNode()
    node.node_info.id = "Trainer"
    model = standard_artifacts.Model()
    model.uri = str(tmp_path / "p" / "Trainer" / "model" / "5")
    derived = mes_executor.with_checkpoint_dir({"budget": 600}, inputs, {"model": [model]}, props,
                                               pytypes.SimpleNamespace(pipeline_node=node))
    assert os.path.dirname(derived["checkpoint_dir"]) == str(tmp_path / "p" / "checkpoints" / "Trainer")


def test_ranking_tfma_reports_mean_label_so_a_one_class_auc_is_seen(tiny_data, make_artifacts,
                                                                     tmp_path):
    """The ranking EvalConfig computes mean_label next to AUC; BlessingGate and the run summary
    call an AUC undefined when it is 0 or 1 (one label class)."""
    import tensorflow_model_analysis as tfma
    from components.gates import blessing
    data = tiny_data("ranking")
    serving_dir, _ = _train(data, make_artifacts, tmp_path, budget=300)
    eval_config = make_eval_config("ranking")
    shared = tfma.default_eval_shared_model(serving_dir, eval_config=eval_config,
                                            model_name="candidate")
    tfma.run_model_analysis(
        eval_shared_model=shared, eval_config=eval_config, output_path=str(tmp_path / "tfma"),
        data_location=glob.glob(os.path.join(data.raw_examples, "Split-eval", "*"))[0],
        file_format="tfrecords")
    metrics = blessing.read_metrics(str(tmp_path / "tfma"))["candidate"]
    labels = tf.saved_model.load(serving_dir).signatures["transformed_features"](
        examples=_raw_eval(data))["label"].numpy()
    assert metrics["mean_label"] == pytest.approx(labels.mean(), abs=1e-6)
    assert 0.0 < metrics["mean_label"] < 1.0 and "auc" not in blessing.undefined_metrics(metrics)
    assert blessing.undefined_metrics(dict(metrics, mean_label=0.0)) == {"auc"}


def test_baseline_dims_train_each_width_and_keep_the_best_on_validation(tiny_data, make_artifacts,
                                                                        tmp_path):
    data = tiny_data("ranking")
    _, summary = _train(data, make_artifacts, tmp_path, budget=300, baseline=True,
                        baseline_dims=[1, 4])
    with open(os.path.join(tmp_path / "model_run", "training.json")) as f:
        record = json.load(f)
    grid = record["baseline_grid"]
    assert [g["dim"] for g in grid] == [1, 4] and all(g["floats"] <= 300 for g in grid)
    best = max(grid, key=lambda g: g["best_value"])
    assert record["best_value"] == best["best_value"]
    assert summary["embedding_cost"] == best["floats"]  # the exported model is the best width's
