"""Building the library's config dataclasses from plain mappings, with clear errors."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from ssmll.errors import UserError

C = TypeVar("C")


def from_mapping(cls: type[C], values: Mapping[str, Any], where: str) -> C:
    """``cls(**values)``, naming any unknown key as ``where.key``."""
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        raise UserError(f"unknown param {where}.{unknown[0]}; known: {', '.join(sorted(names))}")
    converted = {k: tuple(v) if isinstance(v, list) and _is_tuple_field(cls, k) else v for k, v in values.items()}
    return cls(**converted)


def _is_tuple_field(cls: type, name: str) -> bool:
    field = next(f for f in dataclasses.fields(cls) if f.name == name)
    return "tuple" in str(field.type)
