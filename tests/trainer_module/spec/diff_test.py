"""spec_diff: per-feature rows, width and cost of an MES change."""
from trainer_module.spec import diff as spec_diff
from trainer_module.spec.mes import FeatureMES, ModelSpec

BEFORE = ModelSpec(budget=10_000, mode="ME", features={
    "item": FeatureMES([(100, 32), (400, 8)]), "user": FeatureMES([(50, 16)]),
    "gone": FeatureMES([(10, 4)])})
AFTER = ModelSpec(budget=10_000, mode="ME", features={
    "item": FeatureMES([(150, 32), (350, 8)]), "user": FeatureMES([(50, 16)]),
    "new": FeatureMES([])})


def test_changes_per_feature():
    changes = {c.feature: c for c in spec_diff.spec_changes(BEFORE, AFTER)}
    assert list(changes) == ["item", "user", "new", "gone"]
    item = changes["item"]
    assert item.changed and item.rows == "500" and item.width == "32"
    assert item.cost == "6,656 -> 7,856 (+1,200)"  # exact accounting: tables + projection
    assert item.row()[-1] == "100x32 + 400x8 -> 150x32 + 350x8"
    assert not changes["user"].changed and changes["user"].row()[-1] == "50x16"
    assert changes["gone"].rows == "10 -> 0 (-10)" and changes["gone"].width == "4 -> 0 (-4)"
    assert changes["new"].row()[-1] == "absent -> removed"


def test_summary_line():
    text = spec_diff.summary(BEFORE, AFTER)
    assert text.startswith("3 of 4 feature(s) changed (item, new, gone)")
    assert "total cost 7,496 -> 8,656 (+1,160)" in text
    assert spec_diff.summary(BEFORE, BEFORE).startswith("0 of 3 feature(s) changed;")


def test_costs_follow_the_current_accounting():
    tables_only = ModelSpec(budget=10_000, mode="ME", features=dict(AFTER.features),
                            accounting="paper_tables_only")
    item = spec_diff.spec_changes(BEFORE, tables_only)[0]
    assert item.cost == "6,400 -> 7,600 (+1,200)"
    assert "total cost 7,240 -> 8,400 (+1,160)" in spec_diff.summary(BEFORE, tables_only)
