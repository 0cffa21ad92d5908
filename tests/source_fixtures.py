"""Helpers for the data-source tests: tiny image files, broken ones, and running prepare."""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import yaml
from PIL import Image
from typer.testing import CliRunner

from ssmll.data.sources.registry import SOURCES, DataConfig, build_source
from ssmll.data.tables import PreparedDataset
from stages.prepare import cli


def write_image(path: Path, seed: int = 0, size: tuple[int, int] = (40, 30), mode: str = "RGB") -> Path:
    """A small image with some structure, in the format the suffix says."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, size=(size[1], size[0], 3), dtype=np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).convert(mode).save(path)
    return path


def truncate(path: Path) -> Path:
    """Cut an image file in half, as an interrupted download leaves it."""
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def source_options(name: str, options: Mapping[str, Any]) -> dict[str, Any]:
    """A source's options as its preset lists them: ``options`` over the code defaults (= the preset's)."""
    cls, _ = SOURCES[name]
    return {**{k: v for k, v in dataclasses.asdict(cls()).items() if k != "seed"}, **options}


def data_params(data: Mapping[str, Any]) -> dict[str, Any]:
    """A complete ``data`` section: ``data`` over the defaults, its source's options completed."""
    source = data["source"]
    return {**dataclasses.asdict(DataConfig()), **data, source: source_options(source, data.get(source, {}))}


def build_with_defaults(name: str, options: Mapping[str, Any], seed: int = 0) -> PreparedDataset:
    """``build_source`` with the options not given at their defaults."""
    return build_source(name, source_options(name, options), seed)


def run_prepare(tmp: Path, data: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """Run the prepare stage on ``data`` params (completed by ``data_params``); the CLI result and
    metrics/data.json (None if absent)."""
    tmp.mkdir(parents=True, exist_ok=True)
    params = tmp / "params.yaml"
    params.write_text(yaml.safe_dump({"data": data_params(data)}))
    metrics = tmp / "metrics" / "data.json"
    result = CliRunner().invoke(
        cli, ["--params", str(params), "--out", str(tmp / "prepared"), "--metrics", str(metrics), "--no-progress"]
    )
    return result, json.loads(metrics.read_text()) if metrics.is_file() else None


def prepared_labels(tmp: Path, split: str) -> dict[str, list[str]]:
    """image id -> its class names, from the prepared table of ``split``."""
    classes = json.loads((tmp / "prepared" / "classes.json").read_text())["classes"]
    table = pq.read_table(tmp / "prepared" / f"{split}.parquet").to_pylist()
    return {row["image_id"]: [classes[k] for k in row["labels"]] for row in table}


def prepared_paths(tmp: Path, split: str) -> dict[str, str]:
    table = pq.read_table(tmp / "prepared" / f"{split}.parquet").to_pylist()
    return {row["image_id"]: row["path"] for row in table}


def skipped_rows(tmp: Path) -> list[dict[str, str]]:
    with (tmp / "prepared" / "skipped.csv").open() as f:
        return list(csv.DictReader(f))
