"""Extracting CLIP image features once and reading them back.

Layout of the features directory (``meta.json`` and ``text.parquet`` are :mod:`ssmll.encoding`'s)::

    meta.json                 the encoder that made them
    text.parquet              class text embeddings (C rows)
    <split>/part-00000.parquet image_id, view, global, local (rows sorted by image id, view)

Embeddings are L2-normalised and stored as fp16 fixed-size lists; shards hold a fixed
number of images and the encoder always sees batches of one shape, so the bytes do not
depend on batch size or workers.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ssmll.clip import DenseImageEncoder
from ssmll.errors import UserError
from ssmll.images import open_rgb
from ssmll.io import write_table_to
from ssmll.views import ViewMaker

SHARD_IMAGES = 1024

#: Images per encoder call, whatever the batch size: every call has this one shape (the
#: last is zero-padded). CPU matmul kernels change their summation order with the number
#: of rows, which moved fp16 bits when --batch-size changed; under one fixed shape an
#: image's features depend on its pixels alone.
ENCODE_IMAGES = 32


@dataclass
class Runtime:
    """Knobs that change speed, never the output bytes."""

    device: str = "cpu"
    batch_size: int = 64
    workers: int = 2
    progress: bool = True


class _ImageViews(Dataset):
    def __init__(self, table: pa.Table, views: ViewMaker):
        self.ids = table.column("image_id").to_pylist()
        self.paths = table.column("path").to_pylist()
        self.images = table.column("image").to_pylist()
        self.views = views

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, str]:
        try:
            img = open_rgb(self.paths[i], self.images[i])
        except UserError as e:
            return torch.empty(0), f"{self.ids[i]}: {e}"
        return self.views(img, self.ids[i]), ""


def _collate(batch: list[tuple[torch.Tensor, str]]) -> tuple[list[torch.Tensor], list[str]]:
    return [b[0] for b in batch], [b[1] for b in batch]


def encode_table(
    table: pa.Table, encoder: DenseImageEncoder, views: ViewMaker, rt: Runtime, desc: str = ""
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (global (B, V, D), local (B, V, T, D)) fp16 arrays, ``ENCODE_IMAGES`` images at a time, in table order."""
    loader = DataLoader(
        _ImageViews(table, views),
        batch_size=rt.batch_size,
        num_workers=rt.workers,
        collate_fn=_collate,
        pin_memory=rt.device.startswith("cuda"),
        persistent_workers=False,
    )
    autocast = torch.autocast("cuda", dtype=torch.float16, enabled=rt.device.startswith("cuda"))
    with torch.inference_mode(), tqdm(total=len(table), desc=desc, unit="img", disable=not rt.progress) as bar:
        for images in _fixed_chunks(loader):
            with autocast:
                encoded = _encode_padded(encoder, images, rt.device)
            yield encoded
            bar.update(len(images))


def _fixed_chunks(loader: DataLoader) -> Iterator[list[torch.Tensor]]:
    """The loader's (V, 3, H, W) view stacks regrouped into lists of ``ENCODE_IMAGES`` (fewer at the end)."""
    pending: list[torch.Tensor] = []
    for tensors, errors in loader:
        bad = [e for e in errors if e]
        if bad:
            raise UserError(f"{bad[0]} ({len(bad)} unreadable in this batch); fix or drop it and re-run prepare")
        pending.extend(tensors)
        while len(pending) >= ENCODE_IMAGES:
            yield pending[:ENCODE_IMAGES]
            pending = pending[ENCODE_IMAGES:]
    if pending:
        yield pending


def _encode_padded(encoder: DenseImageEncoder, images: list[torch.Tensor], device: str) -> tuple[np.ndarray, np.ndarray]:
    n = len(images)
    x = torch.stack(images + [torch.zeros_like(images[0])] * (ENCODE_IMAGES - n))
    b, v = x.shape[:2]
    g, loc = encoder(x.flatten(0, 1).to(device, non_blocking=True))
    return (
        g.reshape(b, v, -1)[:n].half().cpu().numpy(),
        loc.reshape(b, v, loc.shape[1], -1)[:n].half().cpu().numpy(),
    )


def write_image_features(
    table: pa.Table, encoder: DenseImageEncoder, views: ViewMaker, rt: Runtime, out_dir: Path, desc: str = ""
) -> None:
    """Encode every image of ``table`` and write shards of ``SHARD_IMAGES`` images under ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ids = table.column("image_id").to_pylist()
    buffer = _ShardBuffer(ids, out_dir)
    for g, loc in encode_table(table, encoder, views, rt, desc):
        buffer.add(g, loc)
    buffer.flush(final=True)


class _ShardBuffer:
    """Collects encoded batches and writes them out in fixed-size shards."""

    def __init__(self, ids: list[str], out_dir: Path):
        self.ids, self.out_dir = ids, out_dir
        self.g: list[np.ndarray] = []
        self.loc: list[np.ndarray] = []
        self.pending = 0
        self.written = 0
        self.shard = 0

    def add(self, g: np.ndarray, loc: np.ndarray) -> None:
        self.g.append(g)
        self.loc.append(loc)
        self.pending += len(g)
        if self.pending >= SHARD_IMAGES:  # concatenate only when a shard is due, not every batch
            self.flush(final=False)

    def flush(self, final: bool) -> None:
        g = np.concatenate(self.g) if self.g else np.empty((0,))
        loc = np.concatenate(self.loc) if self.loc else np.empty((0,))
        start = 0
        while len(g) - start >= SHARD_IMAGES or (final and start < len(g)):
            n = min(SHARD_IMAGES, len(g) - start)
            shard_ids = self.ids[self.written : self.written + n]
            table = _shard_table(shard_ids, g[start : start + n], loc[start : start + n])
            write_table_to(table, self.out_dir / f"part-{self.shard:05d}.parquet")
            self.written, self.shard, start = self.written + n, self.shard + 1, start + n
        self.g, self.loc = ([g[start:]], [loc[start:]]) if start < len(g) else ([], [])
        self.pending = len(g) - start


def _shard_table(ids: list[str], g: np.ndarray, loc: np.ndarray) -> pa.Table:
    n, v, d = g.shape
    return pa.table(
        {
            "image_id": pa.array(np.repeat(ids, v).tolist(), pa.string()),
            "view": pa.array(np.tile(np.arange(v, dtype=np.int8), n)),
            "global": _fixed_list(g.reshape(n * v, d)),
            "local": _fixed_list(loc.reshape(n * v, -1)),
        }
    )


def _fixed_list(rows: np.ndarray) -> pa.FixedSizeListArray:
    flat = pa.array(np.ascontiguousarray(rows, dtype=np.float16).ravel(), pa.float16())
    return pa.FixedSizeListArray.from_arrays(flat, rows.shape[1])


@dataclass
class ImageFeatures:
    """Cached features of one split: ``global_`` (N, V, D) and ``local`` (N, V, T, D), fp16."""

    image_ids: list[str]
    global_: np.ndarray
    local: np.ndarray


def read_image_features(features_dir: str | Path, split: str, views: int | None = None) -> ImageFeatures:
    """Load a split's shards into memory, keeping the first ``views`` views (all if None)."""
    files = sorted((Path(features_dir) / split).glob("part-*.parquet"))
    if not files:
        raise UserError(f"no features under {Path(features_dir) / split}; run the extract stage first")
    table = pa.concat_tables(pq.read_table(f) for f in files)
    n_views = int(pc.max(table.column("view")).as_py()) + 1
    ids = table.column("image_id").to_pylist()[::n_views]
    g = _to_numpy(table.column("global")).reshape(len(ids), n_views, -1)
    loc_flat = _to_numpy(table.column("local"))
    d = g.shape[-1]
    loc = loc_flat.reshape(len(ids), n_views, -1, d)
    keep = n_views if views is None else min(views, n_views)
    return ImageFeatures(ids, g[:, :keep], loc[:, :keep])


def _to_numpy(col: pa.ChunkedArray) -> np.ndarray:
    return np.concatenate([chunk.flatten().to_numpy(zero_copy_only=False) for chunk in col.chunks])
