"""Channel and execution-property names of the NeuralInputSearch component."""
from components.artifacts import EMBEDDING_SPEC_KEY  # noqa: F401  (shared with MesTrainer)
from components.checkpoints import CHECKPOINT_DIR_KEY, CHECKPOINT_ROOT_KEY  # noqa: F401
from trainer_module.data.preprocessing import DATASET_KEY as DATASET_CONFIG_KEY  # noqa: F401

# Input channels.
EXAMPLES_KEY = "examples"
TRANSFORM_GRAPH_KEY = "transform_graph"
SCHEMA_KEY = "schema"
PREVIOUS_MODEL_KEY = "previous_model"   # latest blessed model (warm start), optional

# Output channels.
SEARCH_RESULTS_KEY = "search_results"

# Execution properties.
BUDGET_KEY = "budget"
MODE_KEY = "mode"
ACCOUNTING_KEY = "accounting"
SEARCH_CONFIG_KEY = "search_config"     # SearchConfig.to_json(): every option of the search
TRAIN_BATCH_SIZE_KEY = "train_batch_size"
EVAL_BATCH_SIZE_KEY = "eval_batch_size"
STRATEGY_KEY = "strategy"
SEARCH_SPACE_KEY = "search_space"
TRAIN_SPLIT_KEY = "train_split"
EVAL_SPLIT_KEY = "eval_split"
UI_METADATA_PATH_KEY = "ui_metadata_path"
CUSTOM_CONFIG_KEY = "custom_config"

# Keys inside custom_config (defined where they are read, imported above): DATASET_CONFIG_KEY
# (DatasetConfig.to_dict(), required), CHECKPOINT_DIR_KEY (explicit checkpoint dir) and
# CHECKPOINT_ROOT_KEY (root of the derived <root>/<key> dirs, components.checkpoints).
