"""Every stage command of stages/ answers --help (a quick check that it imports and parses)."""

from __future__ import annotations

import importlib

import pytest
from stage_runner import invoke
from tiny_params import REPO

STAGES = sorted(p.stem for p in (REPO / "stages").glob("*.py") if not p.stem.startswith("_"))


def test_the_four_first_stages_are_found():
    assert {"prepare", "extract", "split", "evaluate"} <= set(STAGES)


@pytest.mark.parametrize("name", STAGES)
def test_stage_help(name):
    result = invoke(importlib.import_module(f"stages.{name}").cli, "--help")
    assert result.exit_code == 0, result.output
    assert "--params" in result.output
