"""TFX Trainer entry point: retrain the fixed-size model of an MES (or the SE baseline).

Use with ``MesTrainer(run_fn='trainer_module.model.trainer.run_fn', ...)`` (or the stock
Trainer for the baseline). ``fn_args.custom_config`` is parsed once, at the top of
``run_fn``, into a ``TrainerConfig`` (``trainer_module.model.trainer_config``: its fields are
the accepted keys, each type-checked, with their defaults); nothing else reads the dict.
The model is the MES at ``mes_uri``, or the uniform SE baseline at ``budget`` (capped at
the full model's floats, its width at the search space's maximum width). The recipe
(``training.fit``) trains epochs of one pass over the train split (or ``steps_per_epoch``
steps) until the validation metric (AUC / Recall@1 over the eval split, or
``EvalArgs.num_steps`` batches) has not improved for ``patience`` epochs, at most
``max_epochs``; ``TrainArgs.num_steps``, when set, caps the total steps; the best epoch's
weights are exported. With ``checkpoint_dir`` a re-run (a retried or preempted Trainer)
resumes after the last finished epoch. ``serving_top_k`` and ``serving_history_feature``
set what the retrieval ``serving_default`` returns (see below).

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

import dataclasses
import json
import os
import tempfile
from typing import Any, Callable, Dict, List, Mapping, NamedTuple, Optional, Tuple

import tensorflow as tf
import tensorflow_transform as tft
from absl import logging
from tfx.components.trainer.fn_args_utils import FnArgs

from trainer_module import distribute as cluster
from trainer_module.data import preprocessing
from trainer_module.data import tfx_io
from trainer_module.data.features import DatasetConfig
from trainer_module.model import models
from trainer_module.model import progress as model_progress
from trainer_module.model import serving
from trainer_module.model import training
from trainer_module.model.trainer_config import TrainerConfig
from trainer_module.spec import baselines
from trainer_module.spec import capacity
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
    own budget, or whose budget differs from ``budget`` (the pipeline config's, capped
    as the search caps it), is refused.
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f"no MES JSON at {path}")
    with tf.io.gfile.GFile(path) as f:
        spec = parse_mes(f.read(), path)
    check_mes_budget(spec, path, budget, "the pipeline config")
    return spec


def resolve_spec(config: TrainerConfig, vocab_sizes: Mapping[str, int]) -> ModelSpec:
    """The MES at ``config.mes_uri``, or the uniform SE baseline (``baseline_spec``).

    ``config.budget`` is capped at the full model's floats (``capacity.capped_budget``, as
    the search caps it), so an MES searched under the capped budget is accepted. Raises
    ValueError for an MES over the budget (see ``read_spec``) and for a degenerate spec
    (``trainable``).
    """
    budget = config.budget
    if budget is not None:
        budget = capacity.capped_budget(budget, vocab_sizes, config.search_space, config.name)
    mes = read_spec(config.mes_uri, budget) if config.mes_uri else None
    if mes is not None and not config.baseline:
        return trainable(mes, vocab_sizes)
    budget = budget or (mes.budget if mes is not None else None)
    if not budget:
        raise ValueError("baseline training needs custom_config['budget'] (or an MES input "
                         "to take the budget from)")
    return trainable(baseline_spec(vocab_sizes, budget, config.baseline_dim, config.search_space),
                     vocab_sizes)


def resolve_specs(config: TrainerConfig, vocab_sizes: Mapping[str, int]) -> List[ModelSpec]:
    """The specs ``run_fn`` trains: ``resolve_spec``'s, or for a baseline with
    ``baseline_dims`` one uniform SE spec per width (widths that give the same spec once)."""
    if not config.baseline_dims or (config.mes_uri and not config.baseline):
        return [resolve_spec(config, vocab_sizes)]
    specs: List[ModelSpec] = []
    for dim in config.baseline_dims:
        spec = resolve_spec(dataclasses.replace(config, baseline_dim=dim, baseline_dims=None),
                            vocab_sizes)
        if spec not in specs:
            specs.append(spec)
    return specs


def baseline_spec(vocab_sizes: Mapping[str, int], budget: int, dim: Optional[int] = None,
                  search_space: Optional[Mapping[str, Any]] = None) -> ModelSpec:
    """The uniform SE baseline at ``budget`` floats (capped at the full model's), its width
    (``dim``, else ``baselines.fair_width``) at most the search space's maximum width."""
    budget = capacity.capped_budget(budget, vocab_sizes, search_space, "BaselineTrainer")
    widest = max(capacity.max_widths(vocab_sizes, search_space).values(), default=None)
    return baselines.uniform_se_spec(dict(vocab_sizes), budget, dim, max_dim=widest)


def trainable(spec: ModelSpec, vocab_sizes: Mapping[str, int]) -> ModelSpec:
    """``spec`` if a trainer can train it; ValueError for entries beyond the vocabularies and
    for a degenerate spec: one that keeps no feature, or a uniform baseline whose budget
    cannot embed one item of every feature."""
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


def _datasets(fn_args: FnArgs, tft_out, config: TrainerConfig, repeat: bool = False):
    """Training data as finite epochs (one pass each; ``repeat``: endless, for epochs of
    ``steps_per_epoch`` steps) and the validation data; with several steps per call
    finite ones carry their batch count, which Keras needs for that."""
    dataset, spe = config.dataset, config.steps_per_execution
    train = tfx_io.input_fn(fn_args.train_files, tft_out, dataset, config.train_batch_size,
                            repeat=repeat, drop_unknown_labels=False, seed=config.seed)
    val_repeat = bool(fn_args.eval_steps) or repeat
    val = tfx_io.input_fn(fn_args.eval_files, tft_out, dataset, config.eval_batch, shuffle=False,
                          repeat=val_repeat, drop_unknown_labels=False)
    if spe > 1 and not repeat:
        train = sized(train, fn_args.train_files, config.train_batch_size, "train")
    if spe > 1 and not val_repeat:
        val = sized(val, fn_args.eval_files, config.eval_batch, "eval")
    return train, val


def epoch_steps(config: TrainerConfig,
                eval_steps: Optional[int]) -> Tuple[Optional[int], Optional[int]]:
    """``(steps_per_epoch, validation_steps)``: None, None (one pass each) except under
    parameter servers, whose workers read endless copies of the data and need both counts
    (``steps_per_epoch``, ``EvalArgs.num_steps`` or ``validation_steps``)."""
    if not config.parameter_servers:
        return config.steps_per_epoch, eval_steps
    steps, val_steps = config.steps_per_epoch, eval_steps or config.validation_steps
    if not steps or not val_steps:
        raise ValueError("strategy 'parameter_server' trains epochs of a fixed step count: set "
                         "custom_config['steps_per_epoch'] and EvalArgs.num_steps (or "
                         f"custom_config['validation_steps']); got {steps!r} and {val_steps!r}")
    return int(steps), int(val_steps)


def write_training_record(fitted: training.FitResult, model_run_dir: str | None,
                          grid: Optional[List[Dict[str, Any]]] = None) -> None:
    """Writes the recipe's result (chosen epoch, validation curve) into the model-run artifact;
    ``grid``: every width a ``baseline_dims`` baseline trained (``dim``, ``floats``,
    ``best_value``), under ``baseline_grid``."""
    if not model_run_dir:
        return
    record = fitted.to_dict()
    if grid:
        record["baseline_grid"] = grid
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, "training.json"), "w") as f:
        f.write(json.dumps(record, indent=2, sort_keys=True))


class _Trained(NamedTuple):
    spec: ModelSpec
    model: tf.keras.Model
    build: Callable[[], tf.keras.Model]
    fitted: training.FitResult


def run_fn(fn_args: FnArgs) -> None:
    """Builds the fixed-size model of the MES, trains it with the recipe and exports the best
    epoch (with ``baseline_dims``, of the width whose model validates best)."""
    config = TrainerConfig.from_custom_config(fn_args.custom_config)
    steps_per_epoch, validation_steps = epoch_steps(config, fn_args.eval_steps)
    # parameter_server: the cluster's worker and ps tasks serve here and never return.
    strategy = tfx_io.make_strategy(config.strategy, **config.shard_options)
    dataset = config.dataset
    tft_out = tft.TFTransformOutput(fn_args.transform_graph_path)
    specs = resolve_specs(config, preprocessing.vocab_sizes_from_transform_output(tft_out, dataset))
    num_labels = preprocessing.num_labels(tft_out, dataset)
    train_ds, val_ds = _datasets(fn_args, tft_out, config, repeat=steps_per_epoch is not None)

    def train(spec: ModelSpec, checkpoint_dir: Optional[str]) -> _Trained:
        def build() -> tf.keras.Model:
            return models.build_model(dataset, spec, num_labels, hidden_units=config.hidden_units,
                                      learning_rate=config.learning_rate,
                                      steps_per_execution=config.steps_per_execution,
                                      optimizer=config.optimizer)

        with strategy.scope():
            model = build()
        callbacks = []
        if not config.parameter_servers:  # Keras refuses batch callbacks there
            # One progress line per epoch in nis-pipeline's output (of at most max_epochs).
            callbacks.append(model_progress.EpochProgress(config.name, config.max_epochs,
                                                          config.train_batch_size))
        if fn_args.model_run_dir:
            callbacks.append(tf.keras.callbacks.TensorBoard(log_dir=fn_args.model_run_dir))
        fitted = training.fit(model, train_ds, val_ds, dataset.task,
                              config.recipe(fn_args.train_steps), steps_per_epoch=steps_per_epoch,
                              validation_steps=validation_steps, callbacks=callbacks,
                              checkpoint_dir=checkpoint_dir, verbose=2)
        return _Trained(spec, model, build, fitted)

    best, grid = None, []
    for spec in specs:
        folder = config.checkpoint_dir
        if folder and len(specs) > 1:
            folder = os.path.join(folder, f"dim-{spec.metadata.get('dim')}")
        trained = train(spec, folder)
        grid.append({"dim": spec.metadata.get("dim"), "floats": spec.cost(),
                     "best_value": trained.fitted.best_value, "monitor": trained.fitted.monitor})
        if len(specs) > 1:
            logging.info("%s: width %s (%d floats): validation %s %.4f", config.name,
                         spec.metadata.get("dim"), spec.cost(), trained.fitted.monitor,
                         trained.fitted.best_value)
        if best is None or trained.fitted.best_value > best.fitted.best_value:
            best = trained
    write_training_record(best.fitted, fn_args.model_run_dir,
                          grid=grid if len(specs) > 1 else None)
    summarize(best.spec, best.model, fn_args.model_run_dir)
    model = servable_model(best.model, strategy, best.build,
                           fn_args.model_run_dir or tempfile.mkdtemp(), val_ds)
    model.save(fn_args.serving_model_dir, save_format="tf",
               signatures=serving.signatures(model, tft_out, dataset, config.serving_top_k,
                                             config.history_feature))


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
