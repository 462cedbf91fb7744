"""TFX Trainer entry point: retrain the fixed-size model of an MES (or the SE baseline).

Use with ``MesTrainer(run_fn='trainer_module.model.trainer.run_fn', ...)`` (or the stock
Trainer for the baseline). ``fn_args.custom_config`` keys:

* ``dataset`` (required): ``DatasetConfig.to_dict()``.
* ``mes_uri``: MES JSON path (set by MesTrainer from its ``embedding_spec`` input).
* ``baseline``: True -> train ``baselines.uniform_se_spec(vocab_sizes, budget, baseline_dim)``
  even if an MES is wired (also the default when no MES is given); ``budget``
  defaults to the MES's budget; ``baseline_dim`` optional.
* ``train_batch_size`` / ``eval_batch_size`` (``defaults.DEFAULT_BATCH_SIZE``),
  ``learning_rate`` (1e-3), ``hidden_units``, ``strategy`` (``tfx_io.STRATEGIES``; with
  'parameter_server' the tables are split over the ``TF_CONFIG`` cluster's parameter servers
  by ``ps_min_shard_bytes`` / ``ps_max_shard_bytes``, and ``steps_per_epoch`` plus
  ``EvalArgs.num_steps`` or ``validation_steps`` are required),
  ``optimizer`` (``optimizers.DEFAULT_OPTIMIZER``, "auto": lazy Adam, which updates only the
  table rows a batch touches, once a table has more than ``optimizers.LAZY_ADAM_ROWS`` rows),
  ``seed`` (shuffling of the training data), ``steps_per_execution`` (1: training steps per
  compiled call, Keras' knob for steps shorter than their per-call overhead, as on
  accelerators; above 1, one-pass epochs first count the train and eval splits, since Keras
  runs several steps per call only over data of known length).
* ``max_epochs`` (20) and ``patience`` (2): the training recipe (``training.fit``):
  epochs of one pass over the train split until the validation metric (AUC /
  Recall@1 over the whole eval split, or ``EvalArgs.num_steps`` batches) has not
  improved for ``patience`` epochs; the best epoch's weights are exported.
  ``TrainArgs.num_steps``, when set, caps the total training steps.
* ``checkpoint_dir``: per-epoch checkpoints; a re-run with the same directory
  (a retried or preempted Trainer) resumes after the last finished epoch.

* ``serving_top_k`` (10) and ``serving_history_feature`` (auto: the multi-valued
  ``history`` feature): the retrieval ``serving_default``'s K and the feature whose
  items it never returns (``''``: none); see ``trainer_module.model.serving``.

The SavedModel's signatures take serialized raw ``tf.Example``s (input ``examples``;
the TFT layer runs inside; ``trainer_module.model.serving``): ``serving_default``
returns ``{'probability': [B, 1]}`` (ranking) or the top-K items
``{'item_ids': [B, K], 'scores': [B, K]}`` (retrieval); ``serving_scores`` (retrieval)
the softmax over the whole label vocabulary ``{'scores': [B, num_labels]}``, which
TFMA's Recall@K reads; ``transformed_features`` maps raw examples (label included) to
the transformed dict, from which TFMA reads the label id (see
``components/mes_trainer/eval_config.py``). The MES, its cost and the model's
parameter counts are logged, written to ``<model_run_dir>/mes_summary.json`` and
to TensorBoard (``<model_run_dir>/mes``); the recipe's chosen epoch and validation
curve go to ``<model_run_dir>/training.json``.
"""
from __future__ import annotations

import json
import os
import tempfile
from typing import Any, Callable, Dict, Mapping, Optional

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx.components.trainer.fn_args_utils import FnArgs

from trainer_module.spec import baselines
from trainer_module import distribute as cluster
from trainer_module.model import models
from trainer_module.model import optimizers
from trainer_module.data import preprocessing
from trainer_module.model import progress as model_progress
from trainer_module.model import serving
from trainer_module.data import tfx_io
from trainer_module.model import training
from trainer_module.defaults import DEFAULT_BATCH_SIZE, DEFAULT_HIDDEN_UNITS
from trainer_module.data.features import DatasetConfig
from trainer_module.spec.mes import ModelSpec, check_mes_budget, parse_mes

# The signature names, re-exported for callers of this module (defined in ``serving``).
SERVING_SIGNATURE, SCORES_SIGNATURE = serving.SERVING_SIGNATURE, serving.SCORES_SIGNATURE
TRANSFORM_SIGNATURE = serving.TRANSFORM_SIGNATURE
RANKING_OUTPUT, RETRIEVAL_OUTPUT = serving.RANKING_OUTPUT, serving.RETRIEVAL_OUTPUT


def read_spec(path: str, budget: int | None = None) -> ModelSpec:
    """The MES at ``path``; refuses an unreadable file or one over ``budget`` (path named).

    Reads with ``tf.io.gfile`` (this module must not import the TFX component
    package) and applies the checks of ``components.artifacts.read_mes``
    (``spec.parse_mes``, ``spec.check_mes_budget``): an MES whose cost exceeds its
    own budget, or whose budget differs from ``budget`` (``custom_config['budget']``,
    the pipeline config's), is refused.
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"no MES JSON at {path}")
    with tf.io.gfile.GFile(path) as f:
        spec = parse_mes(f.read(), path)
    check_mes_budget(spec, path, budget, "the pipeline config")
    return spec


def resolve_spec(config: Mapping[str, Any], vocab_sizes: Mapping[str, int]) -> ModelSpec:
    """The MES at ``config['mes_uri']``, or the uniform SE baseline (see module docstring).

    Raises ValueError for an MES over ``config['budget']`` (see ``read_spec``) and
    for a degenerate spec, which no trainer trains: one that keeps no feature, or
    a uniform baseline whose budget cannot embed one item of every feature.
    """
    budget = config.get("budget")
    mes = read_spec(config["mes_uri"], budget) if config.get("mes_uri") else None
    if mes is not None and not config.get("baseline"):
        spec = mes
    else:
        budget = budget or (mes.budget if mes is not None else None)
        if not budget:
            raise ValueError("baseline training needs custom_config['budget'] (or an MES input "
                             "to take the budget from)")
        spec = baselines.uniform_se_spec(dict(vocab_sizes), int(budget), config.get("baseline_dim"))
    for name, fmes in spec.features.items():
        fmes.validate(name, max_vocab=vocab_sizes.get(name))
    starved = sorted(n for n in spec.removed_features if vocab_sizes.get(n))
    if not spec.kept_features or (spec.metadata.get("baseline") and starved):
        raise ValueError(f"the {'baseline ' if spec.metadata.get('baseline') else ''}spec for "
                         f"budget {spec.budget:,} floats embeds no item of {starved or 'any feature'}; "
                         "refusing to train a degenerate model: raise the budget")
    return spec


def summarize(spec: ModelSpec, model: tf.keras.Model, model_run_dir: str | None) -> Dict[str, Any]:
    """Logs the MES cost and parameter counts; writes them (and the MES) to model_run_dir.

    ``embedding_cost`` is the MES's cost under its accounting and ``costs`` its per-feature
    table / projection / total floats and bytes; ``embedding_params`` counts the built
    model's embedding variables (tables + projections), which equals the cost under exact
    accounting.
    """
    tables = int(models.embedding_table_params(model))
    served = int(models.embedding_params(model))
    summary = {"budget": spec.budget, "mode": spec.mode, "accounting": spec.accounting,
               "embedding_cost": spec.cost(), "costs": spec.cost_facts(),
               "embedding_table_params": tables, "projection_params": served - tables,
               "embedding_params": served, "total_params": int(model.count_params()),
               "baseline": spec.metadata.get("baseline"), "mes": spec.to_dict()["features"]}
    logging.info("MES retraining: cost %d / budget %d floats (%s, %s accounting; %d embedding "
                 "floats served), %d model params; MES %s", spec.cost(), spec.budget, spec.mode,
                 spec.accounting, served, summary["total_params"], summary["mes"])
    if model_run_dir:
        tf.io.gfile.makedirs(model_run_dir)
        with tf.io.gfile.GFile(os.path.join(model_run_dir, "mes_summary.json"), "w") as f:
            f.write(json.dumps(summary, indent=2, sort_keys=True))
        with tf.summary.create_file_writer(os.path.join(model_run_dir, "mes")).as_default():
            tf.summary.text("mes_summary", json.dumps(summary, sort_keys=True), step=0)
            tf.summary.scalar("mes/embedding_cost", spec.cost(), step=0)
            tf.summary.scalar("mes/budget", spec.budget, step=0)
    return summary


def steps_per_execution(config: Mapping[str, Any]) -> int:
    """Training steps per compiled call (``custom_config['steps_per_execution']``, default 1)."""
    spe = config.get("steps_per_execution")
    spe = 1 if spe is None else int(spe)
    if spe < 1:
        raise ValueError(f"steps_per_execution must be >= 1, got {spe}")
    return spe


def sized(ds: tf.data.Dataset, files, batch_size: int, split: str) -> tf.data.Dataset:
    """``ds`` (one pass of full batches over ``files``) with its batch count declared.

    Keras runs several steps per compiled call only over data of known length; the
    split's records are counted once (``tfx_io.count_examples``, no parsing).
    """
    examples = tfx_io.count_examples(files)
    if examples < batch_size:
        raise ValueError(f"the {split} split has {examples} examples, fewer than one batch of "
                         f"{batch_size} (files {files})")
    logging.info("%s split: %d examples, %d batches of %d", split, examples,
                 examples // batch_size, batch_size)
    return ds.apply(tf.data.experimental.assert_cardinality(examples // batch_size))


def _datasets(fn_args: FnArgs, tft_out, dataset: DatasetConfig, config: Mapping[str, Any],
              repeat: bool = False, spe: int = 1):
    """Training data as finite epochs (one pass each; ``repeat``: endless, for epochs of
    ``steps_per_epoch`` steps) and the validation data; with several steps per call
    (``spe``) finite ones carry their batch count, which Keras needs for that."""
    train_bs = int(config.get("train_batch_size", DEFAULT_BATCH_SIZE))
    eval_bs = int(config.get("eval_batch_size", train_bs))
    train = tfx_io.input_fn(fn_args.train_files, tft_out, dataset, train_bs, repeat=repeat,
                            drop_unknown_labels=False, seed=config.get("seed"))
    val_repeat = bool(fn_args.eval_steps) or repeat
    val = tfx_io.input_fn(fn_args.eval_files, tft_out, dataset, eval_bs, shuffle=False,
                          repeat=val_repeat, drop_unknown_labels=False)
    if spe > 1 and not repeat:
        train = sized(train, fn_args.train_files, train_bs, "train")
    if spe > 1 and not val_repeat:
        val = sized(val, fn_args.eval_files, eval_bs, "eval")
    return train, val


def epoch_steps(config: Mapping[str, Any], eval_steps: Optional[int]):
    """``(steps_per_epoch, validation_steps)``: None, None (one pass each) except under
    parameter servers, whose workers read endless copies of the data and need both counts
    (``custom_config['steps_per_epoch']``, ``EvalArgs.num_steps`` or ``validation_steps``)."""
    if config.get("strategy") != "parameter_server":
        return config.get("steps_per_epoch"), eval_steps
    steps, val_steps = config.get("steps_per_epoch"), eval_steps or config.get("validation_steps")
    if not steps or not val_steps:
        raise ValueError("strategy 'parameter_server' trains epochs of a fixed step count: set "
                         "custom_config['steps_per_epoch'] and EvalArgs.num_steps (or "
                         f"custom_config['validation_steps']); got {steps!r} and {val_steps!r}")
    return int(steps), int(val_steps)


def write_training_record(fitted: training.FitResult, model_run_dir: str | None) -> None:
    """Writes the recipe's result (chosen epoch, validation curve) into the model-run artifact."""
    if not model_run_dir:
        return
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, "training.json"), "w") as f:
        f.write(json.dumps(fitted.to_dict(), indent=2, sort_keys=True))


def run_fn(fn_args: FnArgs) -> None:
    """Builds the fixed-size model of the MES, trains it with the recipe and exports the best epoch."""
    config = dict(fn_args.custom_config or {})
    steps_per_epoch, validation_steps = epoch_steps(config, fn_args.eval_steps)
    spe = steps_per_execution(config)
    # parameter_server: the cluster's worker and ps tasks serve here and never return.
    strategy = tfx_io.make_strategy(config.get("strategy", "default"),
                                    **tfx_io.shard_options(config))
    dataset = preprocessing.dataset_from_custom_config(config)
    recipe = training.TrainRecipe.from_config(config, fn_args.train_steps)
    tft_out = tft.TFTransformOutput(fn_args.transform_graph_path)
    spec = resolve_spec(config, preprocessing.vocab_sizes_from_transform_output(tft_out, dataset))
    num_labels = preprocessing.num_labels(tft_out, dataset)
    def build() -> tf.keras.Model:
        return models.build_model(dataset, spec, num_labels,
                                  hidden_units=tuple(config.get("hidden_units",
                                                                DEFAULT_HIDDEN_UNITS)),
                                  learning_rate=float(config.get("learning_rate", 1e-3)),
                                  steps_per_execution=spe,
                                  optimizer=config.get("optimizer", optimizers.DEFAULT_OPTIMIZER))

    with strategy.scope():
        model = build()
    train_ds, val_ds = _datasets(fn_args, tft_out, dataset, config,
                                 repeat=steps_per_epoch is not None, spe=spe)
    callbacks = []
    if config.get("strategy") != "parameter_server":  # Keras refuses batch callbacks there
        # One progress line per epoch in nis-pipeline's output (of at most max_epochs).
        name = "BaselineTrainer" if config.get("baseline") else "Trainer"
        callbacks.append(model_progress.EpochProgress(
            name, recipe.max_epochs, int(config.get("train_batch_size", DEFAULT_BATCH_SIZE))))
    if fn_args.model_run_dir:
        callbacks.append(tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir))
    fitted = training.fit(model, train_ds, val_ds, dataset.task, recipe,
                          steps_per_epoch=steps_per_epoch,
                          validation_steps=validation_steps, callbacks=callbacks,
                          checkpoint_dir=config.get("checkpoint_dir"), verbose=2)
    write_training_record(fitted, fn_args.model_run_dir)
    summarize(spec, model, fn_args.model_run_dir)
    model = servable_model(model, strategy, build, fn_args.model_run_dir or tempfile.mkdtemp(),
                           val_ds)
    model.save(fn_args.serving_model_dir, save_format="tf",
               signatures=serving.signatures(model, tft_out, dataset, config))


def servable_model(model: tf.keras.Model, strategy: tf.distribute.Strategy,
                   build: Callable[[], tf.keras.Model], scratch_dir: str,
                   data: tf.data.Dataset) -> tf.keras.Model:
    """The model to export: ``model``, or after parameter-server training an unsplit copy.

    A SavedModel of tables split over parameter servers does not load back (the split
    variables restore with an incompatible shape), while a checkpoint restores into any
    sharding: the weights go through one (under ``scratch_dir``) into ``build()``'s model,
    built outside the strategy on the features of ``data``'s first batch so that every
    variable exists when the read is checked (the optimizer's slots are left behind).
    """
    if not cluster.is_parameter_server(strategy):
        return model
    path = tf.train.Checkpoint(model=model).write(os.path.join(scratch_dir, "unsplit", "weights"))
    copy = build()
    copy(next(iter(data))[0])
    status = tf.train.Checkpoint(model=copy).read(path)
    status.expect_partial().assert_existing_objects_matched()
    logging.info("parameter servers: exporting an unsplit copy of the trained model (via %s)", path)
    return copy
