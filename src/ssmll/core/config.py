"""The one route from a params section to code: a validated config dataclass.

Every params section a stage reads becomes its library config dataclass through
:func:`from_params`, and nothing else reads params values. A key the dataclass does not
have, a field the section lacks and a value of the wrong type are each a one-line
:class:`UserError` naming ``section.key``; the config's own ``validate()`` then checks
ranges and choices. Python callers build the dataclasses directly and get their
defaults, which equal params.yaml's (``tests/test_params_defaults.py``).
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from ssmll.core.errors import UserError

C = TypeVar("C")


def from_params(cls: type[C], values: Any, where: str) -> C:
    """``cls`` built from the params section ``where`` (exactly its fields), then validated."""
    if not isinstance(values, Mapping):
        raise UserError(f"params section {where} must be a mapping of keys to values, got {values!r}")
    fields = [f for f in dataclasses.fields(cls) if f.init]  # type: ignore[arg-type]
    names = [f.name for f in fields]
    unknown = sorted(set(values) - set(names), key=str)
    if unknown:
        raise UserError(f"unknown param {where}.{unknown[0]}; known: {', '.join(sorted(names))}")
    missing = [f for f in fields if f.name not in values]
    if missing:
        raise UserError(
            f"param {where}.{missing[0].name} is missing; add it to params.yaml (default: {_default(missing[0])!r})"
        )
    hints = typing.get_type_hints(cls)
    cfg = cls(**{name: _convert(hints[name], values[name], f"{where}.{name}") for name in names})
    validate = getattr(cfg, "validate", None)
    if validate is not None:
        validate()
    return cfg


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None


def _convert(kind: Any, value: Any, where: str) -> Any:
    """``value`` as the annotated ``kind`` (YAML's types: bool, int, float, str, lists, mappings)."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _convert(inner, value, where)
    if kind is bool:
        return _check(isinstance(value, bool), value, value, where, "true or false")
    if kind is int:
        return _check(isinstance(value, int) and not isinstance(value, bool), value, value, where, "an integer")
    if kind is float:
        number = isinstance(value, (int, float)) and not isinstance(value, bool)
        return _check(number, value, float(value) if number else value, where, "a number")
    if kind is str:
        return _check(isinstance(value, str), value, value, where, "a string")
    if origin in (list, tuple):
        _check(isinstance(value, (list, tuple)), value, value, where, "a list")
        if origin is tuple and args and args[-1] is not Ellipsis:
            _check(len(value) == len(args), value, value, where, f"a list of {len(args)} values")
            return tuple(_convert(a, v, f"{where}[{i}]") for i, (a, v) in enumerate(zip(args, value)))
        item = args[0] if args else Any
        items = [_convert(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        _check(isinstance(value, Mapping), value, value, where, "a mapping")
        key, item = args or (Any, Any)
        return {_convert(key, k, f"{where} key"): _convert(item, v, f"{where}.{k}") for k, v in value.items()}
    return value


def _check(ok: bool, value: Any, converted: Any, where: str, expected: str) -> Any:
    if not ok:
        raise UserError(f"param {where} must be {expected}, got {value!r}")
    return converted
