"""Helpers for the data-source tests: tiny image files, broken ones, and running prepare."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import yaml
from PIL import Image
from typer.testing import CliRunner

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


def run_prepare(tmp: Path, data: dict[str, Any]) -> tuple[Any, dict[str, Any] | None]:
    """Run the prepare stage on ``data`` params; the CLI result and metrics/data.json (None if absent)."""
    tmp.mkdir(parents=True, exist_ok=True)
    params = tmp / "params.yaml"
    params.write_text(yaml.safe_dump({"data": data}))
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
