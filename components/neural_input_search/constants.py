"""Channel and execution-property names of the NeuralInputSearch component."""
from components.artifacts import EMBEDDING_SPEC_KEY  # noqa: F401  (shared with MesTrainer)

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

# Keys inside custom_config.
DATASET_CONFIG_KEY = "dataset"          # DatasetConfig.to_dict(), required
CHECKPOINT_DIR_KEY = "checkpoint_dir"   # explicit checkpoint dir (wins over the derived one)
CHECKPOINT_ROOT_KEY = "checkpoint_root" # root of the derived <root>/<key> dirs (components.checkpoints)
