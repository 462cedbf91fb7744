"""config_fields: one typed check per field, one line naming it."""
import dataclasses
from typing import Dict, List, Optional, Tuple

import numpy as np
import pytest

from trainer_module.config_fields import check_fields, check_value


@dataclasses.dataclass(frozen=True)
class Record:
    count: int = 1
    share: float = 0.5
    on: bool = False
    name: str = "x"
    cap: Optional[int] = None
    widths: Tuple[int, ...] = (1,)
    ratios: Dict[str, int] = dataclasses.field(default_factory=dict)
    args: List[str] = dataclasses.field(default_factory=list)

    def __post_init__(self):
        check_fields(self, label=lambda n: f"option {n!r}")


def test_values_are_coerced_to_the_annotated_type():
    r = Record(count=1e3, share=2, cap=np.int64(7), widths=[4, 2.0], ratios={"a": 1.0})
    assert (r.count, r.share, r.cap, r.widths, r.ratios) == (1000, 2, 7, (4, 2), {"a": 1})
    assert type(r.count) is int and type(r.cap) is int and isinstance(r.widths, tuple)
    assert Record(cap=None).cap is None


@pytest.mark.parametrize("field, value, message", [
    ("count", True, "option 'count' must be an integer, got True"),
    ("count", "3", "option 'count' must be an integer, got '3'"),
    ("count", 2.5, "option 'count' must be an integer, got 2.5 (not a whole number)"),
    ("count", float("nan"), "option 'count' must be an integer, got nan (not finite)"),
    ("count", 10 ** 19, "option 'count' must be an integer within the int64 range"),
    ("share", True, "option 'share' must be a finite number, got True"),
    ("share", float("inf"), "option 'share' must be a finite number, got inf"),
    ("on", 1, "option 'on' must be true or false, got 1"),
    ("name", None, "option 'name' must be a string, got None"),
    ("cap", 1.5, "option 'cap' must be an integer or null, got 1.5 (not a whole number)"),
    ("widths", 4, "option 'widths' must be a list of integers, got 4"),
    ("widths", [4, "2"], "option 'widths'[1] must be an integer, got '2'"),
    ("ratios", {"a": False}, "option 'ratios'['a'] must be an integer, got False"),
    ("ratios", {1: 1}, "option 'ratios' must have string keys, got 1"),
    ("args", "--a", "option 'args' must be a list of strings, got '--a'"),
])
def test_a_wrong_value_names_the_field(field, value, message):
    with pytest.raises(ValueError) as err:
        Record(**{field: value})
    assert str(err.value).startswith(message), str(err.value)


def test_check_value_alone():
    assert check_value(None, Optional[List[float]], "x") is None
    assert check_value([1, 0.5], Optional[List[float]], "x") == [1, 0.5]
