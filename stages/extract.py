"""extract: encode every image (all views for train) and the class prompts with CLIP, once.

Batch size, workers and device are runtime options (or SSMLL_BATCH_SIZE, SSMLL_WORKERS,
SSMLL_DEVICE): they change speed, not the bytes written, so DVC does not track them.

On several GPUs or nodes, run it under torchrun (``torchrun --nproc_per_node=4 -m
stages.extract``), or have ``dvc repro`` do so: with SSMLL_EXTRACT_LAUNCHER set (e.g. to
``torchrun --standalone --nproc_per_node=4``) the command re-runs itself under that
launcher. Each process encodes its share of the shards; the bytes are those of one
process. A crashed or killed run resumes from the shards it completed, which wait beside
the output (``.features.staging/``) until the run succeeds.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sys
from collections.abc import Iterator
from dataclasses import asdict, replace
from datetime import timedelta
from pathlib import Path

import torch
import typer

from ssmll.core.cli_support import BATCH_SIZE_OPTION, WORKERS_OPTION
from ssmll.core.errors import UserError
from ssmll.core.runtime import Runtime
from ssmll.data.tables import SPLITS, read_classes, read_split
from ssmll.encoding.clip import encode_prompts
from ssmll.encoding.factory import create_encoder
from ssmll.encoding.record import ClipConfig, ExtractConfig, encoder_spec, write_encoding
from ssmll.encoding.staging import Group, Staging, encode_missing, extraction_key
from ssmll.encoding.views import ViewMaker
from stages._cli import (
    DEVICE_OPTION,
    PARAMS_OPTION,
    PREPARED_OPTION,
    app,
    read_config,
    resolve_device,
    user_errors,
)

cli = app(__doc__)

LAUNCHER_ENV = "SSMLL_EXTRACT_LAUNCHER"


@cli.command()
@user_errors
def main(
    params: Path = PARAMS_OPTION,
    prepared: Path = PREPARED_OPTION,
    out: Path = typer.Option(Path("data/features"), help="Output directory for the features."),
    batch_size: int = BATCH_SIZE_OPTION,
    workers: int = WORKERS_OPTION,
    device: str = DEVICE_OPTION,
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Write image features per split (fp16 Parquet shards) and class text features."""
    clip_cfg = read_config(params, "clip", ClipConfig)
    ext = read_config(params, "extract", ExtractConfig)
    classes, prompt_names = read_classes(prepared)
    tables = {split: read_split(prepared, split) for split in SPLITS}
    local_rank = int(os.environ["LOCAL_RANK"]) if "LOCAL_RANK" in os.environ else None  # set by torchrun
    dev = resolve_device(device, local_rank)
    backend = ("nccl" if torch.device(dev).type == "cuda" else "gloo") if local_rank is not None else ""
    with _process_group(backend, dev) as group:
        rt = Runtime(dev, batch_size, workers, progress and group.rank == 0)
        clip, encoder = create_encoder(
            clip_cfg.model,
            clip_cfg.pretrained,
            ext.grid,
            ext.vit_local,
            clip_cfg.seed,
            rt.device,
            crops=ext.crops,
            crop_size=ext.crop_size,
        )
        views = {
            "train": ViewMaker(clip.preprocess_cfg, ext),
            "test": ViewMaker(clip.preprocess_cfg, replace(ext, views=1)),
        }
        text = encode_prompts(clip, prompt_names, list(ext.templates), rt.device).numpy()
        params_key = {"clip": asdict(clip_cfg), "extract": asdict(ext)}
        staging = Staging(
            out, extraction_key(params_key, [prepared / f"{s}.parquet" for s in SPLITS], clip.model, rt.device)
        )
        spec = encoder_spec(clip_cfg, ext, clip, encoder)
        try:
            total, resumed = encode_missing(tables, views, encoder, rt, staging, group)
            if group.rank == 0:
                write_encoding(staging.dir, spec, classes, prompt_names, text)
                staging.publish()
        except UserError:
            staging.discard()
            raise
    if group.rank == 0:
        procs = f" ({backend}) x {group.world} processes" if backend else ""
        typer.echo(
            f"extracted {sum(t.num_rows for t in tables.values())} images with {clip_cfg.model} on {rt.device}{procs}"
            f" ({total} shards, {resumed} resumed)"
        )


@contextlib.contextmanager
def _process_group(backend: str, device: str) -> Iterator[Group]:
    """The processes torchrun started, or a group of one (no ``backend``: not under torchrun).

    A barrier is all they share: NCCL's on GPUs (on this process's own GPU), gloo's on CPUs.
    """
    if not backend:
        yield Group()
        return
    import torch.distributed as dist

    bound = torch.device(device) if backend == "nccl" else None
    dist.init_process_group(backend, timeout=timedelta(hours=2), device_id=bound)
    try:
        yield Group(dist.get_rank(), dist.get_world_size(), dist.barrier)
    finally:
        dist.destroy_process_group()


def relaunch_under(launcher: str) -> None:
    """Replace this process by ``launcher -m stages.extract ARGS``, unless torchrun started it."""
    if launcher and "LOCAL_RANK" not in os.environ:
        cmd = [*shlex.split(launcher), "-m", "stages.extract", *sys.argv[1:]]
        os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    relaunch_under(os.environ.get(LAUNCHER_ENV, ""))
    cli()
