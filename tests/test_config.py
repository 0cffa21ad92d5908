"""ssmll.core.config: params sections to config dataclasses, every mistake one named error."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from ssmll.core.config import from_params
from ssmll.core.errors import UserError


@dataclass(frozen=True)
class Example:
    ratio: float = 0.1
    epochs: int = 3
    on: bool = False
    name: str = "x"
    scale: tuple[float, float] = (0.5, 1.0)
    words: tuple[str, ...] = ("a",)
    groups: list[list[int]] = field(default_factory=list)
    names: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        if self.ratio > 1:
            raise UserError("ex.ratio must be at most 1")


FULL = {
    "ratio": 0.2,
    "epochs": 5,
    "on": True,
    "name": "y",
    "scale": [0.3, 0.9],
    "words": ["b", "c"],
    "groups": [[1, 2], [3]],
    "names": {"a": "an a"},
}


def test_a_full_section_gives_its_values_with_lists_as_tuples_where_declared():
    cfg = from_params(Example, FULL, "ex")
    assert cfg == Example(0.2, 5, True, "y", (0.3, 0.9), ("b", "c"), [[1, 2], [3]], {"a": "an a"})


def test_an_integer_is_a_number():
    cfg = from_params(Example, {**FULL, "ratio": 1}, "ex")
    assert cfg.ratio == 1.0 and isinstance(cfg.ratio, float)


def test_unknown_key_is_named_with_its_section_and_the_known_keys():
    with pytest.raises(
        UserError, match=r"unknown param split\.lb_ration; known: epochs, groups, name, names, on, ratio, scale, words"
    ):
        from_params(Example, {**FULL, "lb_ration": 0.1}, "split")


def test_missing_key_is_named_with_its_default():
    values = dict(FULL)
    del values["epochs"]
    with pytest.raises(UserError, match=r"param ex\.epochs is missing; add it to params.yaml \(default: 3\)"):
        from_params(Example, values, "ex")


BAD_TYPES = {
    "text_for_number": ({"ratio": "ten percent"}, "ex.ratio must be a number, got 'ten percent'"),
    "bool_for_number": ({"ratio": True}, "ex.ratio must be a number"),
    "float_for_integer": ({"epochs": 2.5}, "ex.epochs must be an integer, got 2.5"),
    "text_for_bool": ({"on": "yes"}, "ex.on must be true or false"),
    "number_for_text": ({"name": 3}, "ex.name must be a string"),
    "scalar_for_list": ({"scale": 0.5}, "ex.scale must be a list"),
    "wrong_length": ({"scale": [0.1, 0.2, 0.3]}, "ex.scale must be a list of 2 values"),
    "bad_item": ({"groups": [[1, "two"]]}, r"ex.groups\[0\]\[1\] must be an integer"),
    "bad_mapping_value": ({"names": {"a": 1}}, "ex.names.a must be a string"),
}


@pytest.mark.parametrize("change, message", BAD_TYPES.values(), ids=BAD_TYPES.keys())
def test_a_value_of_the_wrong_type_is_one_named_error(change, message):
    with pytest.raises(UserError, match=message):
        from_params(Example, {**FULL, **change}, "ex")


def test_the_section_must_be_a_mapping():
    with pytest.raises(UserError, match="params section ex must be a mapping"):
        from_params(Example, [1, 2], "ex")


def test_the_config_validates_itself():
    with pytest.raises(UserError, match="ex.ratio must be at most 1"):
        from_params(Example, {**FULL, "ratio": 2}, "ex")
