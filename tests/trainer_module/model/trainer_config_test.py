"""TrainerConfig: custom_config parsed once, every key checked by name, type and range."""
import pytest

from components import checkpoints
from components.mes_trainer import executor as mes_executor
from trainer_module.data.features import DatasetConfig, FeatureConfig
from trainer_module.defaults import DEFAULT_BATCH_SIZE
from trainer_module.model.trainer_config import TrainerConfig

DATASET = DatasetConfig(task="ranking", label="y", features=[FeatureConfig("a")])


def parse(**config):
    return TrainerConfig.from_custom_config({"dataset": DATASET.to_dict(), **config})


def test_defaults_and_derived_values():
    config = parse()
    assert config.dataset == DATASET and config.name == "Trainer" and not config.parameter_servers
    assert config.train_batch_size == config.eval_batch == DEFAULT_BATCH_SIZE
    assert config.recipe(0).max_steps is None and config.recipe(7).max_steps == 7
    assert TrainerConfig.from_custom_config({"dataset": DATASET.to_json()}) == config
    config = parse(baseline=True, train_batch_size=32, eval_batch_size=64, budget=1e5,
                   hidden_units=[8, 4], strategy="parameter_server", ps_min_shard_bytes=1024)
    assert (config.name, config.eval_batch, config.budget, config.hidden_units) == (
        "BaselineTrainer", 64, 100_000, (8, 4))
    assert config.parameter_servers and config.shard_options == {"min_shard_bytes": 1024}


def test_the_keys_executors_set_are_fields():
    names = set(TrainerConfig.__dataclass_fields__)
    assert {mes_executor.MES_URI_KEY, checkpoints.CHECKPOINT_DIR_KEY} <= names
    parse(mes_uri="/m/mes.json", checkpoint_dir="/c")


CASES = [  # (custom_config entries, the one-line message)
    ({"budget": "100000"}, "custom_config['budget'] must be an integer or null, got '100000'"),
    ({"budget": 100000.5}, "custom_config['budget'] must be an integer or null, got 100000.5 (not a"),
    ({"budget": True}, "custom_config['budget'] must be an integer or null, got True"),
    ({"budget": 0}, "custom_config['budget'] must be a positive number of floats (> 0), got 0"),
    ({"budget": -5}, "custom_config['budget'] must be a positive number of floats"),
    ({"budget": 1e30}, "custom_config['budget'] must be an integer or null within the int64 range"),
    ({"baseline": 1}, "custom_config['baseline'] must be true or false, got 1"),
    ({"train_batch_size": 0}, "custom_config['train_batch_size'] must be >= 1, got 0"),
    ({"learning_rate": "fast"}, "custom_config['learning_rate'] must be a finite number"),
    ({"learning_rate": 0}, "custom_config['learning_rate'] must be > 0"),
    ({"hidden_units": [8, 0]}, "custom_config['hidden_units'] must all be >= 1"),
    ({"hidden_units": 8}, "custom_config['hidden_units'] must be a list of integers, got 8"),
    ({"strategy": "gpu"}, "custom_config['strategy'] must be one of ('default', 'mirrored'"),
    ({"optimizer": "sgd"}, "custom_config['optimizer'] must be one of ('auto', 'lazy_adam'"),
    ({"steps_per_execution": 0}, "custom_config['steps_per_execution'] must be >= 1, got 0"),
    ({"patience": -1}, "custom_config['patience'] must be >= 0, got -1"),
    ({"max_epochs": 2.5}, "custom_config['max_epochs'] must be an integer, got 2.5"),
    ({"ps_min_shard_bytes": "1k"}, "custom_config['ps_min_shard_bytes'] must be an integer or null"),
    ({"search_space": {"a": {"dim": "8"}}},
     "custom_config['search_space']['a']['dim'] must be an integer, got '8'"),
    ({"search_space": {"a": {"width": 8}}},
     "custom_config['search_space']['a']: unknown key(s) ['width']"),
    ({"train_batch_sise": 8}, "custom_config: unknown key(s) ['train_batch_sise']; accepted: "),
    ({"dataset": {"task": "ranking", "label": "y", "features": [{"name": "a", "max_len": "1"}]}},
     "feature 'a': max_len must be an integer, got '1'"),
]


@pytest.mark.parametrize("config, message", CASES, ids=[m.split(" must")[0] for _, m in CASES])
def test_a_bad_value_is_one_line_naming_the_key(config, message):
    with pytest.raises(ValueError) as err:
        parse(**config)
    assert message in str(err.value) and "\n" not in str(err.value), str(err.value)


def test_without_dataset_is_refused():
    with pytest.raises(ValueError, match="custom_config must hold 'dataset'"):
        TrainerConfig.from_custom_config({"budget": 3})
