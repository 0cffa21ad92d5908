"""The tiny configuration the tests share: the repository's params with the size keys turned down."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]

#: The size keys that make the default pipeline tiny; everything else stays as in params.yaml.
TINY: dict[str, Any] = {
    "data.digits.n_train": 120,
    "data.digits.n_test": 60,
    "extract.views": 2,
    "extract.grid": 2,
}

TEMPLATES = ["a photo of the number {}."]


def repo_params(overrides: Mapping[str, Any] = {}) -> dict[str, Any]:
    """The repository's params.yaml with ``TINY`` and then ``overrides`` (dotted keys) applied."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    for dotted, value in {**TINY, **overrides}.items():
        *parents, leaf = dotted.split(".")
        node = params
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return params


def write_params(directory: Path, overrides: Mapping[str, Any] = {}) -> Path:
    """Write ``repo_params(overrides)`` as ``directory/params.yaml``; return ``directory``."""
    (directory / "params.yaml").write_text(yaml.safe_dump(repo_params(overrides), sort_keys=False))
    return directory
