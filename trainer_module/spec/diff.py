"""What changed between two MESs, per feature: rows kept, width, cost.

A scheduled pipeline searches again on new data; the on-call question is what the
new MES does differently from the previous one. The run summary
(``pipelines.ops.results``) and the MES report (``components.neural_input_search.report``)
both render these rows.

Example::

    for c in spec_changes(previous_spec, new_spec):
        if c.changed:
            print(c.feature, c.rows, c.width, c.cost)   # e.g. "1,000 -> 1,200"
"""
from __future__ import annotations

from typing import List, NamedTuple, Optional

from trainer_module.spec.mes import FeatureMES, ModelSpec

HEADERS = ("feature", "rows (items kept)", "width (dim)", "cost (floats)", "MES before -> after")


def _arrow(before: int, after: int) -> str:
    if before == after:
        return f"{after:,}"
    return f"{before:,} -> {after:,} ({after - before:+,})"


def _text(fmes: Optional[FeatureMES]) -> str:
    if fmes is None:
        return "absent"
    return "removed" if fmes.removed else " + ".join(f"{v}x{d}" for v, d in fmes.entries)


class FeatureChange(NamedTuple):
    """One feature's MES before and after (``None``: the feature was not in that MES)."""

    feature: str
    before: Optional[FeatureMES]
    after: Optional[FeatureMES]
    accounting: str = "exact"  # how ``cost`` counts (``trainer_module.spec.mes.ACCOUNTINGS``)

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def _pair(self, attr: str):
        def value(f):
            return 0 if f is None else (f.cost(self.accounting) if attr == "cost"
                                        else getattr(f, attr))
        return value(self.before), value(self.after)

    @property
    def rows(self) -> str:
        return _arrow(*self._pair("vocab_size"))

    @property
    def width(self) -> str:
        return _arrow(*self._pair("output_dim"))

    @property
    def cost(self) -> str:
        return _arrow(*self._pair("cost"))

    def row(self) -> List[str]:
        """A table row in ``HEADERS`` order."""
        mes = _text(self.after) if not self.changed else f"{_text(self.before)} -> {_text(self.after)}"
        return [self.feature, self.rows, self.width, self.cost, mes]


def spec_changes(previous: ModelSpec, current: ModelSpec) -> List[FeatureChange]:
    """Per-feature changes, current features first, then features only the previous MES had;
    costs counted as the current MES counts them."""
    names = list(current.features) + [n for n in previous.features if n not in current.features]
    return [FeatureChange(n, previous.features.get(n), current.features.get(n), current.accounting)
            for n in names]


def summary(previous: ModelSpec, current: ModelSpec) -> str:
    """One line: total cost, budget and how many features changed."""
    changes = spec_changes(previous, current)
    changed = [c.feature for c in changes if c.changed]
    before = sum(f.cost(current.accounting) for f in previous.features.values())
    budget = ("" if previous.budget == current.budget
              else f"; budget {previous.budget:,} -> {current.budget:,}")
    return (f"{len(changed)} of {len(changes)} feature(s) changed"
            + (f" ({', '.join(changed)})" if changed else "")
            + f"; total cost {_arrow(before, current.cost())}{budget}")
