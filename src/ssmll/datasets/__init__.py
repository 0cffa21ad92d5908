"""Data sources for the prepare stage, by name.

Each source has a config dataclass and a ``build(cfg) -> PreparedDataset`` function;
``build_source`` picks one by its ``data.source`` name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ssmll.config import from_mapping
from ssmll.datasets import digits
from ssmll.errors import UserError
from ssmll.prepared import PreparedDataset

SOURCES: dict[str, tuple[type, Callable[[Any], PreparedDataset]]] = {
    "digits": (digits.DigitScenesConfig, digits.build),
}


def build_source(name: str, options: Mapping[str, Any]) -> PreparedDataset:
    """Build the prepared dataset of source ``name`` from its options mapping."""
    if name not in SOURCES:
        raise UserError(f"unknown data.source {name!r}; choose one of: {', '.join(SOURCES)}")
    cls, build = SOURCES[name]
    return build(from_mapping(cls, options, f"data.{name}"))
