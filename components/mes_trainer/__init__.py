"""MesTrainer: the stock TFX Trainer plus an optional ``embedding_spec`` input.

Usage::

    from components.mes_trainer import MesTrainer
    trainer = MesTrainer(module_file=..., examples=transform.outputs['transformed_examples'],
                         transform_graph=transform.outputs['transform_graph'],
                         embedding_spec=nis.outputs['embedding_spec'],   # omit for the baseline
                         train_args=..., eval_args=...,
                         custom_config={'dataset': ..., 'budget': ...})
    # or run_fn='trainer_module.model.trainer.run_fn'
"""

from components.mes_trainer.component import MesTrainer, MesTrainerSpec  # noqa: E402,F401
