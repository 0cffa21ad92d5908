"""The tiny configuration the tests share: the repository's params with the size keys turned down."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]

#: The size keys that make the default pipeline tiny; everything else stays as in params.yaml.
TINY: dict[str, Any] = {
    "data.objects.n_train": 120,
    "data.objects.n_test": 60,
    "extract.views": 2,
    "extract.grid": 2,
}

#: Fewer epochs where params.yaml has a train section: tests check that training runs, not what it learns.
SHORT_TRAINING: dict[str, Any] = {"train.epochs": 3, "train.warmup_epochs": 1}

TEMPLATES = ["a photo of a {}."]


def _has(params: Mapping[str, Any], dotted: str) -> bool:
    node: Any = params
    for key in dotted.split("."):
        if not isinstance(node, Mapping) or key not in node:
            return False
        node = node[key]
    return True


def tiny_overrides() -> dict[str, Any]:
    """``TINY``, plus ``SHORT_TRAINING`` for the keys the repository's params.yaml has."""
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    return {**TINY, **{k: v for k, v in SHORT_TRAINING.items() if _has(params, k)}}


def repo_params(overrides: Mapping[str, Any] = {}, absolute_checkpoint: bool = True) -> dict[str, Any]:
    """The repository's params.yaml with ``tiny_overrides()`` and then ``overrides`` (dotted keys) applied.

    With ``absolute_checkpoint`` a relative ``clip.pretrained`` checkpoint (the shipped
    embedded CLIP) is made absolute, so that the params work from any working directory;
    a copy of the repository keeps it relative, as Hydra composes it.
    """
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    shipped = REPO / str(params["clip"]["pretrained"])
    if absolute_checkpoint and shipped.is_file():
        params["clip"]["pretrained"] = str(shipped)
    for dotted, value in {**tiny_overrides(), **overrides}.items():
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
