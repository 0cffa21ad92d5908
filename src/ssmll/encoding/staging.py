"""A resumable extraction of every split into one features directory, shared across processes.

Shards (``ssmll.encoding.store``, encoded by ``ssmll.encoding.extraction``) are the unit of work.
Each completed shard is renamed into a
staging directory beside the output, ``.<out>.staging/<key>/``, where ``key`` hashes
everything that shapes the bytes: the params, the prepared tables, the model's weights,
the shard format and the kind of device. A re-run after a crash finds the shards of its
key there and encodes only the missing ones; another key (a params change, a re-prepared
dataset) starts afresh, removing the old staging. DVC deletes a stage's outputs before
running it, which is why the staging lives outside them.

With several processes (``torchrun``), process ``rank`` of ``world`` encodes every
``world``-th missing shard; after all are done, rank 0 writes the small files and
publishes the staging directory onto the output with one rename. The bytes do not
depend on the number of processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import torch

import ssmll.encoding.extraction as extraction
import ssmll.encoding.store as features
from ssmll.core.runtime import Runtime
from ssmll.encoding.clip import DenseImageEncoder
from ssmll.encoding.extraction import encode_shards
from ssmll.encoding.store import shard_name, shard_ranges, write_shard
from ssmll.encoding.views import ViewMaker

#: Bump when the bytes a shard holds change for the same inputs (layout, encoding).
FORMAT = 1


@dataclass(frozen=True)
class Shard:
    split: str
    index: int
    rows: range

    @property
    def path(self) -> str:
        return f"{self.split}/{shard_name(self.index)}"


@dataclass
class Group:
    """The processes sharing one extraction: this one's rank, their number, and a barrier."""

    rank: int = 0
    world: int = 1
    barrier: Callable[[], None] = lambda: None


def extraction_key(params: Mapping, table_files: Iterable[Path], model: torch.nn.Module, device: str) -> str:
    """Hex digest of everything that shapes the shards' bytes."""
    h = hashlib.sha256()
    fmt = {"format": FORMAT, "shard": features.SHARD_IMAGES, "encode": extraction.ENCODE_IMAGES}
    fmt.update(device=torch.device(device).type, torch=torch.__version__)
    h.update(json.dumps([params, fmt], sort_keys=True, default=str).encode())
    for path in table_files:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    for name, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)}".encode())
        h.update(t.view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()[:20]


def staging_root(out: Path) -> Path:
    """Where shards wait for publication: beside ``out``, so that publishing is one rename."""
    return out.parent / f".{out.name}.staging"


def plan(tables: Mapping[str, pa.Table]) -> list[Shard]:
    return [Shard(split, i, rows) for split, t in tables.items() for i, rows in enumerate(shard_ranges(t.num_rows))]


class Staging:
    """The staging directory of one key: shards done so far, and how it ends (published or discarded)."""

    def __init__(self, out: Path, key: str):
        self.out = out
        self.dir = staging_root(out) / key

    def open(self, splits: Iterable[str]) -> None:
        """Keep this key's complete shards; drop other keys' and half-written files (rank 0, before others look)."""
        root = staging_root(self.out)
        if root.is_dir():
            for other in root.iterdir():
                if other != self.dir:
                    shutil.rmtree(other)
        for split in splits:
            (self.dir / split).mkdir(parents=True, exist_ok=True)
            for partial in (self.dir / split).glob(".*.tmp"):
                partial.unlink()

    def missing(self, shards: Iterable[Shard]) -> list[Shard]:
        return [s for s in shards if not (self.dir / s.path).is_file()]

    def write(self, shard: Shard, ids: list[str], g, loc) -> None:
        """Write a shard under a temporary name, then rename it: a shard file present is complete."""
        final = self.dir / shard.path
        fd, tmp = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
        os.close(fd)
        try:
            write_shard(Path(tmp), ids, g, loc)
            os.replace(tmp, final)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    def publish(self) -> None:
        """Move the complete directory onto the output (replacing an older one) and drop the staging."""
        if self.out.exists():
            shutil.rmtree(self.out)
        os.replace(self.dir, self.out)
        self.discard()

    def discard(self) -> None:
        shutil.rmtree(staging_root(self.out), ignore_errors=True)


def encode_missing(
    tables: Mapping[str, pa.Table],
    views: Mapping[str, ViewMaker],
    encoder: DenseImageEncoder,
    rt: Runtime,
    staging: Staging,
    group: Group,
) -> tuple[int, int]:
    """Encode this process's share of the shards ``staging`` lacks; (shards in all, shards already done)."""
    shards = plan(tables)
    if group.rank == 0:
        staging.open(tables)
    group.barrier()
    todo = staging.missing(shards)
    group.barrier()  # every process has its list before any writes
    mine = todo[group.rank :: group.world]
    # A shard is written in a thread while the next one is encoded (written in turn, the encoder
    # idled for each Parquet write: 0.3 s per 1,024 images at a 7x7 grid). At most one is pending.
    with ThreadPoolExecutor(1) as writer:
        pending: Future | None = None
        for split, table in tables.items():
            part = [s for s in mine if s.split == split]
            if not part:
                continue
            ids = table.column("image_id").to_pylist()
            encoded = encode_shards(table, [s.rows for s in part], encoder, views[split], rt, desc=f"extract {split}")
            for shard, (g, loc) in zip(part, encoded):
                if pending is not None:
                    pending.result()
                pending = writer.submit(staging.write, shard, ids[shard.rows.start : shard.rows.stop], g, loc)
        if pending is not None:
            pending.result()
    group.barrier()
    return len(shards), len(shards) - len(todo)
