"""Typed config fields: every value of a config checked once, at load, with one line naming it.

The configs (``DatasetConfig``, ``SearchConfig``, ``TrainerConfig``, ``PipelineConfig``) are
dataclasses whose annotations give each field's type. ``check_fields`` reads them and
coerces or rejects every value when the config is built, so a value from a JSON file or a
``custom_config`` dict is never used with the wrong type or silently rounded:

* a ``bool`` field takes ``true`` / ``false`` only, and ``true`` is not a number;
* an ``int`` field takes an integer, or an integral float (``1e5`` is 100000), within the
  int64 range; ``100000.5``, ``"100000"``, ``NaN`` and ``1e30`` are errors;
* a ``float`` field takes any finite number (an int included);
* errors read ``<field> must be <what>, got <value>`` (``... or null`` for optional fields);
* ``Optional[X]`` also takes null; ``Tuple[X, ...]`` / ``List[X]`` a list of X (kept as
  the annotated container); ``Dict[str, X]`` an object whose values are X.

Example::

    @dataclasses.dataclass
    class Cfg:
        budget: int = 10
        def __post_init__(self):
            check_fields(self)

    Cfg(budget=1e3).budget   # -> 1000
    Cfg(budget="1000")       # ValueError: budget must be an integer, got '1000'
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import typing
from typing import Any, Callable, Dict, Iterable, Optional, Sequence

INT64_MAX = 2 ** 63 - 1
INT64_MIN = -(2 ** 63)


def _plain_name(name: str) -> str:
    return name


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> Dict[str, Any]:
    return typing.get_type_hints(cls)


def describe(hint: Any) -> str:
    """What a value of type ``hint`` is, in the words of an error message."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return "any value"
    if origin is typing.Union:
        rest = [a for a in args if a is not type(None)]
        return " or ".join(describe(a) for a in rest) + (" or null" if len(rest) < len(args)
                                                        else "")
    if origin in (tuple, list):
        return f"a list of {_plural(args[0])}" if args else "a list"
    if origin is dict:
        return "an object" if len(args) < 2 or args[1] is Any else \
            f"an object of {_plural(args[1])}"
    return {bool: "true or false", int: "an integer", float: "a finite number",
            str: "a string"}.get(hint, getattr(hint, "__name__", str(hint)))


def _plural(hint: Any) -> str:
    return {bool: "booleans", int: "integers", float: "finite numbers", str: "strings"}.get(
        hint, f"values of {describe(hint)}")


def check_value(value: Any, hint: Any, name: str) -> Any:
    """``value`` as type ``hint`` (see the module docstring); ValueError naming ``name`` otherwise."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin is typing.Union:
        if value is None and type(None) in args:
            return None
        rest = [a for a in args if a is not type(None)]
        if len(rest) == 1:
            try:
                return check_value(value, rest[0], name)
            except ValueError as e:  # "<name> must be X, got v" -> "... X or null, got v"
                text, head = str(e), f"{name} must be {describe(rest[0])}"
                if not text.startswith(head) or type(None) not in args:
                    raise
                raise ValueError(f"{head} or null{text[len(head):]}") from None
        raise TypeError(f"{name}: unions other than Optional[X] are not supported ({hint})")
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ValueError(f"{name} must be {describe(hint)}, got {value!r}")
        item = args[0] if args else Any
        items = [check_value(v, item, f"{name}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ValueError(f"{name} must be {describe(hint)}, got {value!r}")
        item = args[1] if len(args) == 2 else Any
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            raise ValueError(f"{name} must have string keys, got {bad[0]!r}")
        return {k: check_value(v, item, f"{name}[{k!r}]") for k, v in value.items()}
    if hint is bool:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        return _integer(value, name)
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                or not math.isfinite(value):
            raise ValueError(f"{name} must be a finite number, got {value!r}")
        return value if isinstance(value, (int, float)) else float(value)
    if hint is str:
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        return value
    if isinstance(hint, type) and not isinstance(value, hint):
        raise ValueError(f"{name} must be {describe(hint)}, got {value!r}")
    return value


def _integer(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ValueError(f"{name} must be an integer, got {value!r}")
    given = value
    if not isinstance(value, numbers.Integral):
        if not math.isfinite(value) or value != int(value):
            why = "not a whole number" if math.isfinite(value) else "not finite"
            raise ValueError(f"{name} must be an integer, got {value!r} ({why})")
        value = int(value)
    if not INT64_MIN <= value <= INT64_MAX:
        raise ValueError(f"{name} must be an integer within the int64 range (at most "
                         f"{INT64_MAX:,}), got {given!r}")
    return value if type(value) is int else int(value)


def check_fields(obj: Any, label: Callable[[str], str] = _plain_name,
                 skip: Iterable[str] = ()) -> None:
    """Checks (and coerces in place) every field of the dataclass ``obj`` against its annotation.

    Args:
      obj: a dataclass instance, frozen or not.
      label: field name -> how an error names it (e.g. ``"search option 'seed'"``).
      skip: fields the caller checks itself (nested records).

    Raises:
      ValueError: one line naming the first field whose value has the wrong type.
    """
    hints = _hints(type(obj))
    skipped = set(skip)
    for field in dataclasses.fields(obj):
        if field.name in skipped:
            continue
        value = getattr(obj, field.name)
        checked = check_value(value, hints[field.name], label(field.name))
        if checked is not value:
            object.__setattr__(obj, field.name, checked)


def check_at_least(name: str, value: Optional[float], minimum: float) -> None:
    """``value >= minimum`` (None passes: an unset optional field)."""
    if value is not None and value < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {value!r}")


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> None:
    """``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def check_keys(where: str, d: Any, accepted: Iterable[str],
               required: Iterable[str] = ()) -> None:
    """``d`` is a JSON object with no unknown and no missing keys (one-line errors)."""
    accepted, required = tuple(accepted), tuple(required)
    if not isinstance(d, dict):
        raise ValueError(f"{where} must be a JSON object, got {d!r}")
    unknown = sorted(set(d) - set(accepted))
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {unknown}; accepted: {', '.join(accepted)}")
    missing = [k for k in required if k not in d]
    if missing:
        raise ValueError(f"{where}: missing required key(s) {missing} (needs "
                         f"{', '.join(required)})")
