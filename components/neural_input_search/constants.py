"""Channel and execution-property names of the NeuralInputSearch component."""
from trainer_module.search_config import SearchConfig


# Input channels.
EXAMPLES_KEY = "examples"
TRANSFORM_GRAPH_KEY = "transform_graph"
SCHEMA_KEY = "schema"
PREVIOUS_MODEL_KEY = "previous_model"   # latest blessed model (warm start), optional

# Output channels.
EMBEDDING_SPEC_KEY = "embedding_spec"
SEARCH_RESULTS_KEY = "search_results"

# Execution properties.
BUDGET_KEY = "budget"
MODE_KEY = "mode"
ACCOUNTING_KEY = "accounting"
TASK_KEY = "task"
WARMUP_STEPS_KEY = "warmup_steps"
SEARCH_STEPS_KEY = "search_steps"
GROUP_SIZE_KEY = "group_size"
NUM_NEGATIVES_KEY = "num_negatives"
TRAIN_BATCH_SIZE_KEY = "train_batch_size"
EVAL_BATCH_SIZE_KEY = "eval_batch_size"
STRATEGY_KEY = "strategy"
SEARCH_SPACE_KEY = "search_space"
TRAIN_SPLIT_KEY = "train_split"
EVAL_SPLIT_KEY = "eval_split"
UI_METADATA_PATH_KEY = "ui_metadata_path"
CUSTOM_CONFIG_KEY = "custom_config"
WARM_START_KEY = "warm_start"                        # "off" | "on" | "auto"
WARM_START_SEARCH_STEPS_KEY = "warm_start_search_steps"

# Keys inside custom_config.
DATASET_CONFIG_KEY = "dataset"          # DatasetConfig.to_dict(), required
SEARCH_CONFIG_KEY = "search_config"     # extra SearchConfig fields (learning_rate, seed, ...)
CHECKPOINT_DIR_KEY = "checkpoint_dir"   # stable checkpoint dir (resume across executions)

# Defaults: the library's, from their one home (trainer_module.search_config.SearchConfig).
DEFAULT_WARMUP_STEPS = SearchConfig.warmup_steps
DEFAULT_SEARCH_STEPS = SearchConfig.search_steps
DEFAULT_GROUP_SIZE = SearchConfig.group_size
DEFAULT_NUM_NEGATIVES = SearchConfig.num_negatives
DEFAULT_TRAIN_BATCH_SIZE = 256
