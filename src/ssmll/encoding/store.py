"""The features directory: its layout, one shard written, each split read back.

Layout::

    meta.json, text.parquet    the encoder's record and the class text embeddings (ssmll.encoding.record)
    <split>/part-00000.parquet image_id, view, global, local (rows sorted by image id, view)

Embeddings are L2-normalised and stored as fp16 fixed-size lists. Shard ``i`` of a split
holds images ``[i * SHARD_IMAGES, (i + 1) * SHARD_IMAGES)`` of its table
(``ssmll.encoding.extraction`` writes them). Reading needs neither torch nor CLIP.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ssmll.core.errors import UserError
from ssmll.core.files import fp16_rows, rows_to_numpy, write_table_to

SHARD_IMAGES = 1024

#: Rows (image views) decoded at a time when reading features back: faster than smaller
#: reads for a little more peak memory (docs/scale.md).
READ_ROWS = 256


def shard_ranges(n: int) -> list[range]:
    """The rows of each shard of an ``n``-image table."""
    return [range(s, min(s + SHARD_IMAGES, n)) for s in range(0, n, SHARD_IMAGES)]


def shard_name(index: int) -> str:
    return f"part-{index:05d}.parquet"


def write_shard(path: Path, ids: Sequence[str], g: np.ndarray, loc: np.ndarray) -> None:
    """One shard's table at ``path`` (inside a directory that is published atomically)."""
    write_table_to(_shard_table(list(ids), g, loc), path)


def _shard_table(ids: list[str], g: np.ndarray, loc: np.ndarray) -> pa.Table:
    n, v, d = g.shape
    return pa.table(
        {
            "image_id": pa.array(np.repeat(ids, v).tolist(), pa.string()),
            "view": pa.array(np.tile(np.arange(v, dtype=np.int8), n)),
            "global": fp16_rows(g.reshape(n * v, d)),
            "local": fp16_rows(loc.reshape(n * v, -1)),
        }
    )


@dataclass
class ImageFeatures:
    """Cached features of one split: ``global_`` (N, V, D) and ``local`` (N, V, T, D), fp16."""

    image_ids: list[str]
    global_: np.ndarray
    local: np.ndarray


def read_image_features(features_dir: str | Path, split: str, views: int | None = None) -> ImageFeatures:
    """Load a split's shards, keeping the first ``views`` views (all if None).

    Rows are decoded ``READ_ROWS`` at a time from a buffered stream and copied straight
    into one array per field, allocated once for the whole split, so memory stays at the
    split's fp16 bytes: read whole, a shard would cost its compressed bytes plus about
    seven times its decoded bytes (fp16 goes through fixed-size binary), a gigabyte.
    """
    files = sorted((Path(features_dir) / split).glob("part-*.parquet"))
    if not files:
        raise UserError(f"no features under {Path(features_dir) / split}; run the extract stage first")
    schema = pq.read_schema(files[0])
    d, td = schema.field("global").type.list_size, schema.field("local").type.list_size
    n_views = int(pc.max(pq.read_table(files[0], columns=["view"]).column("view")).as_py()) + 1
    n = sum(pq.read_metadata(f).num_rows for f in files) // n_views
    keep = n_views if views is None else min(views, n_views)
    g, loc = np.empty((n * keep, d), np.float16), np.empty((n * keep, td), np.float16)
    ids: list[str] = []
    row = 0  # of the split, across its shards: image row // n_views, view row % n_views
    for f in files:
        for batch in pq.ParquetFile(f, pre_buffer=False, buffer_size=1 << 20).iter_batches(batch_size=READ_ROWS):
            r = row + np.arange(batch.num_rows)
            view = r % n_views
            if not np.array_equal(batch.column("view").to_numpy(), view) or r[-1] >= n * n_views:
                raise UserError(f"{f} does not hold {n_views} views per image; re-run the extract stage")
            wanted = view < keep
            at = (r // n_views * keep + view)[wanted]
            g[at] = rows_to_numpy(pa.chunked_array([batch.column("global")]))[wanted]
            loc[at] = rows_to_numpy(pa.chunked_array([batch.column("local")]))[wanted]
            ids.extend(np.asarray(batch.column("image_id").to_pylist(), dtype=object)[view == 0])
            row += batch.num_rows
    return ImageFeatures(ids, g.reshape(n, keep, d), loc.reshape(n, keep, td // d, d))
