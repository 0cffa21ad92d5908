"""Atomic, byte-stable writers for the files the stages produce.

Every output is written under a temporary name beside its final path and renamed into
place only when complete, so an interrupted or failed stage never leaves a file that
looks valid to DVC or to the next stage.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

#: Fixed Parquet settings: with the pinned pyarrow, equal tables give equal bytes.
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": "zstd",
    "compression_level": 3,
    "use_dictionary": False,
    "write_statistics": False,
    "store_schema": True,
    "row_group_size": 1 << 20,
}


@contextlib.contextmanager
def atomic_path(final: str | Path, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary sibling path; on success move it onto ``final``, on error remove it."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    target = tmp if is_dir else tmp / final.name
    try:
        yield target
        _remove(final)
        os.replace(target, final)
    finally:
        _remove(tmp)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_parquet(table: pa.Table, path: str | Path) -> None:
    """Write ``table`` atomically with the fixed settings (no pandas metadata)."""
    table = table.replace_schema_metadata(None)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, **PARQUET_OPTIONS)


def write_table_to(table: pa.Table, path: Path) -> None:
    """Write ``table`` with the fixed settings to ``path`` inside an atomic directory."""
    pq.write_table(table.replace_schema_metadata(None), path, **PARQUET_OPTIONS)


def fp16_rows(rows: np.ndarray) -> pa.FixedSizeListArray:
    """A (N, K) array as N fixed-size lists of fp16 (how embeddings are stored)."""
    flat = pa.array(np.ascontiguousarray(rows, dtype=np.float16).ravel(), pa.float16())
    return pa.FixedSizeListArray.from_arrays(flat, rows.shape[1])


def rows_to_numpy(col: pa.ChunkedArray) -> np.ndarray:
    """A fixed-size list column back as an (N, K) array."""
    flat = [chunk.flatten().to_numpy(zero_copy_only=False) for chunk in col.chunks]
    return (np.concatenate(flat) if flat else np.empty(0)).reshape(len(col), col.type.list_size)


def write_json(obj: Any, path: str | Path) -> None:
    """Write ``obj`` as sorted, indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(dumps_json(obj))


def dumps_json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, allow_nan=False) + "\n"


def write_text(text: str, path: str | Path) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def rows_csv(rows: list[dict], fields: list[str]) -> str:
    """``rows`` as CSV text with the columns ``fields`` (a row's missing key: an empty cell)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def sha256(path: Path) -> str:
    """The file's sha256, read in 1 MiB blocks (checkpoints can be GBs)."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def json_values(obj: Any) -> Any:
    """``obj`` as JSON gives it back: plain lists, dicts, str, int, float (tuples and numpy floats too)."""
    return json.loads(json.dumps(obj))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
