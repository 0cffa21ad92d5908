"""Any other dataset, described by a manifest the user writes: one row per image.

The manifest is a CSV (with a header), JSON Lines or Parquet file with the columns
(their names are params):

- ``path``: the image file, relative to ``root`` (default: the manifest's folder);
- ``labels``: the image's label names, a list (JSONL, Parquet) or one string cut at
  ``label_separator`` (default ``|``); empty means no labels, and such images are kept;
- ``split`` (optional): ``train`` or ``test``; without this column the test part is
  drawn: images sorted by id, ``RandomState(seed).permutation``, the first
  ``round(test_fraction * n)`` go to test;
- an id column (optional, ``id_column``); otherwise an image's id is its path as written.

The class list is ``classes_file`` when given (relative to the working directory, or
else to the manifest's folder): a ``.txt`` file with one name per line,
or a ``.json`` file with a list of names or an object mapping each name to the phrase
CLIP's prompts use for it; otherwise the sorted label names found in the manifest.
A label that is not in the class list is an error naming it.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ssmll.core.errors import UserError
from ssmll.data.sources.records import (
    Record,
    assemble,
    label_indices,
    read_lines,
    require_file,
    show,
    unknown_labels_error,
)
from ssmll.data.tables import SPLITS, PreparedDataset

FORMATS = (".csv", ".jsonl", ".parquet")


@dataclass(frozen=True)
class ManifestConfig:
    file: str = "data/raw/manifest.csv"
    root: str = ""
    path_column: str = "path"
    labels_column: str = "labels"
    label_separator: str = "|"
    id_column: str = ""
    split_column: str = "split"
    classes_file: str = ""
    test_fraction: float = 0.2
    seed: int = 0


def build(cfg: ManifestConfig) -> PreparedDataset:
    if not 0.0 < cfg.test_fraction < 1.0:
        raise UserError(f"data.manifest.test_fraction={cfg.test_fraction} must be within (0, 1)")
    if not cfg.label_separator:
        raise UserError("data.manifest.label_separator must not be empty; use e.g. '|'")
    path = require_file(Path(cfg.file), "manifest (data.manifest.file)")
    rows = read_rows(path)
    _require_columns(rows, path, cfg)
    ids = [_image_id(row, cfg) for row in rows]
    names = [_label_names(row.get(cfg.labels_column), cfg.label_separator) for row in rows]
    classes, prompts = _class_list(_beside(cfg.classes_file, path), names)
    index, unknown = {c: k for k, c in enumerate(classes)}, {}
    records = [
        Record(i, str(row[cfg.path_column]).strip(), label_indices(n, index, i, unknown))
        for i, row, n in zip(ids, rows, names)
    ]
    if unknown:
        raise unknown_labels_error(
            unknown, str(path), f"add them to {cfg.classes_file or 'the class list'} or fix those rows"
        )
    has_split = bool(cfg.split_column) and any(cfg.split_column in row for row in rows)
    parts = _split_column(rows, cfg.split_column, path) if has_split else _draw(ids, cfg.test_fraction, cfg.seed)
    splits = {s: [r for r, p in zip(records, parts) if p == s] for s in SPLITS}
    info = {
        "manifest": {"test_part": "split column" if has_split else f"drawn: {cfg.test_fraction} with seed {cfg.seed}"}
    }
    return assemble(classes, prompts, splits, cfg.root or path.parent, info=info)


def read_rows(path: Path) -> list[dict[str, Any]]:
    """The manifest's rows as dicts, whatever its format."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            with path.open(newline="", encoding="utf-8-sig") as f:
                return list(csv.DictReader(f))
        if suffix == ".jsonl":
            lines = path.read_text(encoding="utf-8-sig").splitlines()
            return [_json_object(line, path, n) for n, line in enumerate(lines, 1) if line.strip()]
        if suffix == ".parquet":
            return pq.read_table(path).to_pylist()
    except (OSError, UnicodeDecodeError, csv.Error, pa.ArrowException) as e:
        raise UserError(f"cannot read manifest {path}: {e}") from e
    raise UserError(f"manifest {path} should end in one of {', '.join(FORMATS)}")


def _json_object(line: str, path: Path, n: int) -> dict[str, Any]:
    try:
        obj = json.loads(line)
    except ValueError as e:
        raise UserError(f"{path}, line {n}: not valid JSON ({e})") from e
    if not isinstance(obj, dict):
        raise UserError(f"{path}, line {n}: each line should be a JSON object with the image's columns")
    return obj


def _require_columns(rows: list[dict[str, Any]], path: Path, cfg: ManifestConfig) -> None:
    if not rows:
        raise UserError(f"manifest {path} has no rows")
    for param, column in (
        ("path_column", cfg.path_column),
        ("labels_column", cfg.labels_column),
        ("id_column", cfg.id_column),
    ):
        if column and not any(column in row for row in rows):
            raise UserError(
                f"manifest {path} has no {column!r} column (data.manifest.{param}); "
                f"its columns are: {', '.join(rows[0])}"
            )
    empty = [str(n) for n, row in enumerate(rows, 1) if not str(row.get(cfg.path_column) or "").strip()]
    if empty:
        raise UserError(f"manifest {path} has rows without an image path: rows {show(empty)}")


def _image_id(row: dict[str, Any], cfg: ManifestConfig) -> str:
    value = row.get(cfg.id_column) if cfg.id_column else None
    return str(value if value not in (None, "") else row[cfg.path_column]).strip()


def _label_names(value: Any, separator: str) -> list[str]:
    """A labels cell as a list of names: a list as it is, a string cut at ``separator``."""
    if value is None:
        return []
    items = list(value) if isinstance(value, (list, tuple, np.ndarray)) else str(value).split(separator)
    return [str(item).strip() for item in items if str(item).strip()]


def _beside(name: str, manifest: Path) -> str:
    """A file named relative to the working directory, else to the manifest's folder."""
    return name if not name or Path(name).exists() else str(manifest.parent / name)


def _class_list(classes_file: str, names: list[list[str]]) -> tuple[list[str], list[str]]:
    """Class names and their prompt phrases, from the class-list file or the labels found."""
    if not classes_file:
        classes = sorted({n for image in names for n in image})
        if not classes:
            raise UserError(
                "the manifest has no labels at all; fill its labels column or give data.manifest.classes_file"
            )
        return classes, classes
    path = Path(classes_file)
    if path.suffix.lower() == ".json":
        obj = _read_json(path)
        mapping = obj if isinstance(obj, dict) else {str(c): str(c) for c in obj}
    else:
        mapping = {line: line for line in read_lines(path, "class list (data.manifest.classes_file)")}
    classes = [str(c) for c in mapping]
    if len(classes) != len(set(classes)) or not classes:
        raise UserError(f"class list {path} must hold distinct names, at least one")
    return classes, [str(mapping[c]) for c in mapping]


def _read_json(path: Path) -> Any:
    try:
        obj = json.loads(require_file(path, "class list (data.manifest.classes_file)").read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as e:
        raise UserError(f"cannot parse class list {path}: {e}") from e
    if not isinstance(obj, (list, dict)):
        raise UserError(f"class list {path} should be a JSON list of names or an object name -> prompt phrase")
    return obj


def _split_column(rows: list[dict[str, Any]], column: str, path: Path) -> list[str]:
    parts = [str(row.get(column) or "").strip().lower() for row in rows]
    bad = sorted({p for p in parts if p not in SPLITS})
    if bad:
        counts = show(f"{p!r} ({parts.count(p)} rows)" for p in bad)
        raise UserError(
            f"manifest {path}: column {column!r} should say train or test, found {counts}; "
            "fix those rows, or drop the column to draw the test part with data.manifest.test_fraction"
        )
    return parts


def _draw(ids: list[str], test_fraction: float, seed: int) -> list[str]:
    """train/test per image: a seeded permutation of the images sorted by id, its head to test."""
    order = sorted(range(len(ids)), key=lambda i: ids[i])
    n_test = round(test_fraction * len(ids))
    if not 0 < n_test < len(ids):
        raise UserError(f"data.manifest.test_fraction={test_fraction} of {len(ids)} images leaves train or test empty")
    perm = np.random.RandomState(seed).permutation(len(ids))
    test = {order[i] for i in perm[:n_test]}
    return ["test" if i in test else "train" for i in range(len(ids))]
