"""MultiSizeEmbeddingSpec / SearchResults: MES round trip, custom properties, TYPE_NAME import."""
import json
import os

import pytest
from tfx.utils import import_utils

from components import artifacts
from components.artifacts import MultiSizeEmbeddingSpec, SearchResults
from trainer_module.search.config import SearchResult
from trainer_module.spec.mes import FeatureMES, ModelSpec


def _spec(budget=10_000):
    return ModelSpec(budget=budget, mode="ME",
                     features={"item": FeatureMES([(100, 32), (400, 8)]), "user": FeatureMES([])},
                     metadata={"budget_fallback": False})


def test_write_and_read_mes_round_trip_sets_properties(tmp_path):
    art = MultiSizeEmbeddingSpec()
    art.uri = str(tmp_path / "mes")
    path = artifacts.write_mes(art, _spec())
    assert path == os.path.join(art.uri, "mes.json")
    assert artifacts.read_mes(art) == _spec()
    assert artifacts.read_mes([art]) == _spec()
    assert artifacts.read_mes(art.uri) == artifacts.read_mes(path) == _spec()
    # tables 100*32 + 400*8 = 6400, projection P_2 8*32 = 256, both counted (exact accounting)
    assert (art.mode, art.budget, art.total_cost, art.accounting) == ("ME", 10_000, 6656, "exact")
    assert (art.table_floats, art.projection_floats, art.total_bytes) == (6400, 256, 4 * 6656)
    assert json.loads(art.get_string_custom_property("feature_costs"))["item"] == {
        "table_floats": 6400, "projection_floats": 256, "total_floats": 6656, "bytes": 4 * 6656}
    assert (art.num_features_kept, art.num_features_removed) == (1, 1)


def test_unset_properties_read_as_none_and_missing_mes_fails(tmp_path):
    art = MultiSizeEmbeddingSpec()
    art.uri = str(tmp_path / "empty")
    assert art.total_cost is None
    with pytest.raises(FileNotFoundError, match="no MES JSON"):
        artifacts.read_mes(art)


def test_write_mes_refuses_over_budget(tmp_path):
    art = MultiSizeEmbeddingSpec()
    art.uri = str(tmp_path / "mes")
    with pytest.raises(ValueError, match="over budget"):
        artifacts.write_mes(art, _spec(budget=1000))


def test_search_results_files_and_properties(tmp_path):
    art = SearchResults()
    art.uri = str(tmp_path / "results")
    history = [{"step": 5, "phase": "warmup", "mean_reward": None},
               {"step": 10, "phase": "search", "mean_reward": 0.25}]
    result = SearchResult(spec=_spec(), history=history, probabilities={"item": [[0.5, 0.5]]})
    artifacts.write_search_results(art, result, task="ranking")
    assert artifacts.read_json(art, artifacts.HISTORY_FILE) == history
    assert artifacts.read_json(art, artifacts.PROBABILITIES_FILE) == {"item": [[0.5, 0.5]]}
    assert SearchResult.from_json(json.dumps(artifacts.read_json(art, artifacts.RESULT_FILE))).spec == _spec()
    assert (art.task, art.num_steps, art.final_mean_reward) == ("ranking", 10, 0.25)
    assert artifacts.logs_dir(art).endswith("logs")


@pytest.mark.parametrize("cls", [MultiSizeEmbeddingSpec, SearchResults])
def test_type_name_is_importable_class_path_for_kubeflow_v2(cls):
    # The Kubeflow V2 runtime imports custom artifact types by TYPE_NAME.
    assert import_utils.import_class_by_path(cls.TYPE_NAME) is cls
    assert not cls.PROPERTIES  # the V2 compiler rejects PROPERTIES on custom types
