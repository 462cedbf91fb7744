"""The hand-sized SE baselines: the default width fills the budget, widths are capped."""
import pytest

from trainer_module.spec import baselines


@pytest.mark.parametrize("sizes, budget, width", [
    # 1.96 floats per item: width 1 keeps every item but uses half the budget; width 2 with
    # the most frequent items of each feature fills it.
    ({"a": 10_000, "b": 3_553}, 26_600, 2),
    # Exactly 4 floats per item: width 4 keeps everything and fills the budget.
    ({"a": 1_000, "b": 500}, 6_000, 4),
    # Fewer floats than items: width 1, the most frequent items.
    ({"a": 1_000, "b": 500}, 900, 1),
])
def test_default_width_uses_the_budget_best(sizes, budget, width):
    spec = baselines.uniform_se_spec(sizes, budget)
    assert spec.metadata["dim"] == width and spec.cost() <= budget
    narrower = baselines.uniform_se_spec(sizes, budget, dim=max(budget // sum(sizes.values()), 1))
    assert spec.cost() >= narrower.cost()
    assert spec.cost() >= 0.99 * min(budget, width * sum(sizes.values()))


def test_default_width_stays_within_the_maximum_width():
    spec = baselines.uniform_se_spec({"a": 100}, 100_000, max_dim=16)
    assert spec.metadata["dim"] == 16 and spec.cost() == 1_600
    assert baselines.fair_width({"a": 100, "b": 50}, 290, max_dim=1) == 1
