"""The prepared dataset: one Parquet table per split, the class list, and their summary.

Every data source (the embedded digit scenes, COCO, VOC, NUS-WIDE, a user manifest)
produces a :class:`PreparedDataset`; everything downstream reads only these files.
``classes.json`` holds the class names, their prompt phrases and, when the source knows
them (the digit generator's hidden contexts), ground-truth groups of class indices.
Table columns: ``image_id`` (string, unique, rows sorted by it), ``labels`` (list of
class indices), ``path`` (image file, or null) and ``image`` (encoded image bytes, or null).
"""

from __future__ import annotations

import collections
import csv
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from PIL import Image

from ssmll.core.errors import UserError
from ssmll.core.files import atomic_path, dumps_json, read_json, write_table_to, write_text

SPLITS = ("train", "test")

#: How many skipped images ``metrics/data.json`` lists (lost files first); skipped.csv has all.
SKIPPED_LISTED = 100

SCHEMA = pa.schema(
    [
        ("image_id", pa.string()),
        ("labels", pa.list_(pa.int16())),
        ("path", pa.string()),
        ("image", pa.binary()),
    ]
)


@dataclass
class Skipped:
    """An image left out of the prepared tables, and why."""

    split: str
    image_id: str
    reason: str
    path: str = ""


@dataclass
class PreparedDataset:
    classes: list[str]
    prompt_names: list[str]
    tables: dict[str, pa.Table]
    skipped: list[Skipped] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    groups: list[list[int]] | None = None  # known groups of co-occurring classes


def make_table(
    image_ids: list[str],
    labels: list[list[int]],
    paths: list[str | None] | None = None,
    images: list[bytes | None] | None = None,
) -> pa.Table:
    """Build a split table sorted by image id; duplicate ids are a user error."""
    n = len(image_ids)
    dupes = [i for i, c in collections.Counter(image_ids).items() if c > 1]
    if dupes:
        raise UserError(f"duplicate image ids: {', '.join(sorted(dupes)[:5])}; image ids must be unique")
    table = pa.table(
        {
            "image_id": pa.array(image_ids, pa.string()),
            "labels": pa.array([sorted(set(x)) for x in labels], pa.list_(pa.int16())),
            "path": pa.array(paths if paths is not None else [None] * n, pa.string()),
            "image": pa.array(images if images is not None else [None] * n, pa.binary()),
        },
        schema=SCHEMA,
    )
    return table.sort_by("image_id")


def multihot(labels: list[list[int]] | pa.ChunkedArray, num_classes: int) -> np.ndarray:
    """Label-index lists to a (N, C) 0/1 float32 matrix."""
    if isinstance(labels, (pa.ChunkedArray, pa.Array)):
        labels = labels.to_pylist()
    y = np.zeros((len(labels), num_classes), dtype=np.float32)
    for i, idx in enumerate(labels):
        y[i, idx] = 1.0
    return y


def summarize(ds: PreparedDataset) -> dict[str, Any]:
    """The contents of ``metrics/data.json``: counts, cardinality, class frequencies, losses."""
    out: dict[str, Any] = {"num_classes": len(ds.classes), "classes": ds.classes, "splits": {}}
    for split, table in ds.tables.items():
        y = multihot(table.column("labels"), len(ds.classes))
        n = len(y)
        per_image = y.sum(1)
        out["splits"][split] = {
            "images": n,
            "label_cardinality": round(float(per_image.mean()), 4) if n else 0.0,
            "images_without_labels": int((per_image == 0).sum()),
            "class_frequency": {c: int(v) for c, v in zip(ds.classes, y.sum(0))},
            "skipped": sum(s.split == split for s in ds.skipped),
        }
    reasons = collections.Counter(s.reason.split(":")[0] for s in ds.skipped)
    listed = sorted(ds.skipped, key=lambda s: s.reason.startswith("no labels"))[:SKIPPED_LISTED]
    out["skipped"] = {
        "total": len(ds.skipped),
        "by_reason": dict(sorted(reasons.items())),
        "files": [{"split": s.split, "image_id": s.image_id, "path": s.path, "reason": s.reason} for s in listed],
    }
    out.update(ds.info)
    return out


def write_prepared(ds: PreparedDataset, out_dir: str | Path) -> None:
    """Write all tables, ``classes.json`` and ``skipped.csv`` as one atomic directory."""
    with atomic_path(out_dir, is_dir=True) as tmp:
        for split, table in ds.tables.items():
            write_table_to(table, tmp / f"{split}.parquet")
        classes = {"classes": ds.classes, "prompt_names": ds.prompt_names}
        if ds.groups is not None:
            classes["groups"] = ds.groups
        (tmp / "classes.json").write_text(dumps_json(classes))
        (tmp / "skipped.csv").write_text(_skipped_csv(ds.skipped))


def _skipped_csv(skipped: list[Skipped]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["split", "image_id", "path", "reason"])
    for s in skipped:
        writer.writerow([s.split, s.image_id, s.path, s.reason])
    return buf.getvalue()


def read_split(prepared_dir: str | Path, split: str) -> pa.Table:
    path = Path(prepared_dir) / f"{split}.parquet"
    if not path.is_file():
        raise UserError(f"{path} not found; run the prepare stage first (dvc repro prepare)")
    return pq.read_table(path)


def read_classes(prepared_dir: str | Path) -> tuple[list[str], list[str]]:
    """Class names and their prompt phrases."""
    obj = _classes_json(prepared_dir)
    return obj["classes"], obj["prompt_names"]


def read_class_groups(prepared_dir: str | Path) -> list[list[int]] | None:
    """The source's known groups of class indices, or None."""
    return _classes_json(prepared_dir).get("groups")


def _classes_json(prepared_dir: str | Path) -> dict[str, Any]:
    path = Path(prepared_dir) / "classes.json"
    if not path.is_file():
        raise UserError(f"{path} not found; run the prepare stage first (dvc repro prepare)")
    return read_json(path)


def export_images(prepared_dir: str | Path, split: str, out_dir: Path, limit: int) -> list[Path]:
    """The first ``limit`` images of ``split`` as files under ``out_dir``, with a manifest of their labels.

    Embedded images are written byte for byte (so they decode to the pixels extract saw),
    files are copied, each under a temporary name first; ``labels.csv`` (path, labels joined
    by ``|``) is a manifest that prepare and ``ssmll predict`` read.
    """
    if split not in SPLITS:
        raise UserError(f"no split {split!r}; choose one of {', '.join(SPLITS)}")
    classes, _ = read_classes(prepared_dir)
    rows = read_split(prepared_dir, split).slice(0, limit).to_pylist()
    written, manifest = [], [["path", "labels"]]
    for row in rows:
        try:
            data = row["image"] if row["image"] is not None else Path(row["path"]).read_bytes()
        except OSError as e:
            raise UserError(f"cannot read {row['path']} ({e.strerror}); re-run the prepare stage") from None
        suffix = Path(row["path"]).suffix if row["path"] else "." + Image.open(io.BytesIO(data)).format.lower()
        target = out_dir / f"{row['image_id'].replace('/', '_')}{suffix}"
        with atomic_path(target) as tmp:
            tmp.write_bytes(data)
        written.append(target)
        manifest.append([target.name, "|".join(classes[k] for k in row["labels"])])
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(manifest)
    write_text(buf.getvalue(), out_dir / "labels.csv")  # last: a manifest names only images already written
    return written
