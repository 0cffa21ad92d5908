"""ssmll.config: config dataclasses from params mappings, typos named."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ssmll.config import from_mapping
from ssmll.errors import UserError


@dataclass(frozen=True)
class Example:
    ratio: float = 0.1
    scale: tuple[float, float] = (0.5, 1.0)
    groups: list[list[int]] = field(default_factory=list)


def test_values_override_defaults():
    assert from_mapping(Example, {"ratio": 0.2}, "ex") == Example(ratio=0.2)


def test_lists_become_tuples_only_for_tuple_fields():
    cfg = from_mapping(Example, {"scale": [0.3, 0.9], "groups": [[1, 2], [3]]}, "ex")
    assert cfg.scale == (0.3, 0.9)
    assert cfg.groups == [[1, 2], [3]]


def test_unknown_key_is_named_with_its_section_and_the_known_keys():
    with pytest.raises(UserError, match=r"unknown param split\.lb_ration; known: groups, ratio, scale"):
        from_mapping(Example, {"lb_ration": 0.1, "ratio": 0.2}, "split")
