"""Encoding images with CLIP: decoding in workers, fixed-shape chunks, one shard at a time.

The encoder only ever sees chunks of ``ENCODE_IMAGES`` images of one shard, zero-padded
to that one shape, so a shard's bytes depend on its images alone: not on batch size,
workers, which other shards a process encodes, or how many processes share the work
(``ssmll.encoding.staging``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import numpy as np
import pyarrow as pa
import torch
from open_clip.modified_resnet import ModifiedResNet
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from ssmll.core.errors import UserError
from ssmll.core.runtime import Runtime
from ssmll.data.images import open_rgb
from ssmll.encoding.clip import DenseImageEncoder
from ssmll.encoding.store import shard_ranges
from ssmll.encoding.views import ViewMaker

#: Images per encoder call, whatever the batch size: every call has this one shape (the
#: last of a shard is zero-padded). CPU matmul kernels change their summation order with
#: the number of rows, which moved fp16 bits when --batch-size changed; under one fixed
#: shape an image's features depend on its pixels alone.
ENCODE_IMAGES = 32


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


def _collate(batch: list[tuple[torch.Tensor, str]]) -> tuple[torch.Tensor, int, list[str]]:
    """Stack a loader batch (whole chunks) in the worker, zero-padded to a multiple of ``ENCODE_IMAGES``."""
    errors = [b[1] for b in batch if b[1]]
    if errors:
        return torch.empty(0), len(batch), errors
    images = [b[0] for b in batch]
    pad = -len(images) % ENCODE_IMAGES
    return torch.stack(images + [torch.zeros_like(images[0])] * pad), len(batch), []


def _loader_batches(shards: Sequence[range], batch_size: int) -> list[list[int]]:
    """Rows per loader batch: whole chunks, about ``batch_size`` images, never across two shards."""
    per_batch = max(1, round(batch_size / ENCODE_IMAGES)) * ENCODE_IMAGES
    return [list(rows[s : s + per_batch]) for rows in shards for s in range(0, len(rows), per_batch)]


def encode_shards(
    table: pa.Table, shards: Sequence[range], encoder: DenseImageEncoder, views: ViewMaker, rt: Runtime, desc: str = ""
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per shard of ``table`` (rows, in order), its (global (n, V, D), local (n, V, T, D)) fp16 arrays.

    Workers decode, transform and stack whole chunks (in pinned memory on CUDA) while the
    model encodes; on CUDA the next chunk is queued before the last one is copied back.
    """
    cuda = torch.device(rt.device).type == "cuda"
    loader = DataLoader(
        _ImageViews(table, views),
        batch_sampler=_loader_batches(shards, rt.batch_size),
        num_workers=rt.workers,
        collate_fn=_collate,
        pin_memory=cuda,
    )
    encoded = _encoded(encoder, _chunks(loader), rt.device)
    total = sum(len(r) for r in shards)
    with torch.inference_mode(), tqdm(total=total, desc=desc, unit="img", disable=not rt.progress) as bar:
        for rows in shards:
            g, loc = [], []
            while sum(map(len, g)) < len(rows):  # chunks never straddle two shards
                out_g, out_loc = next(encoded)
                g.append(out_g)
                loc.append(out_loc)
                bar.update(len(out_g))
            yield np.concatenate(g), np.concatenate(loc)


def encode_table(
    table: pa.Table, encoder: DenseImageEncoder, views: ViewMaker, rt: Runtime, desc: str = ""
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Per shard of the whole table, in order, (global, local) fp16 arrays, as extract encodes it."""
    return encode_shards(table, shard_ranges(table.num_rows), encoder, views, rt, desc)


def _chunks(loader: DataLoader) -> Iterator[tuple[torch.Tensor, int]]:
    """(padded (ENCODE_IMAGES, V, 3, H, W) stack, images in it) per chunk, in loader order."""
    for stacked, n, errors in loader:
        if errors:
            raise UserError(f"{errors[0]} ({len(errors)} unreadable in this batch); fix or drop it and re-run prepare")
        for s in range(0, n, ENCODE_IMAGES):
            yield stacked[s : s + ENCODE_IMAGES], min(ENCODE_IMAGES, n - s)


def _encoded(
    encoder: DenseImageEncoder, chunks: Iterator[tuple[torch.Tensor, int]], device: str
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Encode each chunk; on CUDA a chunk's features travel back while the next one is encoded."""
    cuda = torch.device(device).type == "cuda"
    # channels_last speeds up a ResNet tower's convolutions on CUDA; a ViT's one patch convolution gains nothing
    layout = torch.channels_last if cuda and isinstance(encoder.visual, ModifiedResNet) else torch.contiguous_format
    if layout is torch.channels_last:
        encoder.to(memory_format=layout)
    pending = None
    for x, n in chunks:
        b, v = x.shape[:2]
        with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
            g, loc = encoder(x.flatten(0, 1).to(device, non_blocking=True, memory_format=layout))
        ready = _to_host((g.reshape(b, v, -1)[:n].half(), loc.reshape(b, v, loc.shape[1], -1)[:n].half()))
        if pending is not None:
            yield pending()
        pending = ready
    if pending is not None:
        yield pending()


def _to_host(tensors: tuple[torch.Tensor, ...]) -> Callable[[], tuple[np.ndarray, ...]]:
    """Start copying ``tensors`` into pinned host memory; the returned call waits and gives numpy arrays."""
    if not tensors[0].is_cuda:
        return lambda: tuple(t.numpy() for t in tensors)
    host = [torch.empty(t.shape, dtype=t.dtype, pin_memory=True) for t in tensors]
    for h, t in zip(host, tensors):
        h.copy_(t, non_blocking=True)
    copied = torch.cuda.Event()
    copied.record()

    def wait() -> tuple[np.ndarray, ...]:
        copied.synchronize()
        return tuple(h.numpy() for h in host)

    return wait
