"""extract: encode every image (all views for train) and the class prompts with CLIP, once.

Batch size, workers and device are runtime options (or SSMLL_BATCH_SIZE, SSMLL_WORKERS,
SSMLL_DEVICE): they change speed, not the bytes written, so DVC does not track them.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import torch
import typer

from stages._cli import PARAMS_OPTION, PREPARED_OPTION, app, env_default, read_config, user_errors
from ssmll.clip import DenseImageEncoder, encode_prompts, load_clip
from ssmll.encoding import ClipConfig, ExtractConfig, encoder_spec, write_encoding
from ssmll.errors import UserError
from ssmll.features import Runtime, write_image_features
from ssmll.io import atomic_path
from ssmll.prepared import read_classes, read_split
from ssmll.views import ViewMaker

cli = app(__doc__)


def _default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


@cli.command()
@user_errors
def main(
    params: Path = PARAMS_OPTION,
    prepared: Path = PREPARED_OPTION,
    out: Path = typer.Option(Path("data/features"), help="Output directory for the features."),
    batch_size: int = typer.Option(env_default("BATCH_SIZE", 64), min=1, help="Images per decoding batch [env SSMLL_BATCH_SIZE]."),
    workers: int = typer.Option(
        env_default("WORKERS", min(4, os.cpu_count() or 1)), min=0, help="Decoding worker processes [env SSMLL_WORKERS]."
    ),
    device: str = typer.Option(os.environ.get("SSMLL_DEVICE", ""), help="cpu, cuda, cuda:1 ... [env SSMLL_DEVICE; default: cuda if available]."),
    progress: bool = typer.Option(True, help="Show a progress bar."),
) -> None:
    """Write image features per split (fp16 Parquet shards) and class text features."""
    clip_cfg = read_config(params, "clip", ClipConfig)
    ext = read_config(params, "extract", ExtractConfig)
    rt = Runtime(device or _default_device(), batch_size, workers, progress)
    if rt.device.startswith("cuda") and not torch.cuda.is_available():
        raise UserError(f"--device {rt.device} asked for, but CUDA is not available here; use --device cpu")
    classes, prompt_names = read_classes(prepared)
    tables = {split: read_split(prepared, split) for split in ("train", "test")}

    clip = load_clip(clip_cfg.model, clip_cfg.pretrained, seed=clip_cfg.seed, device=rt.device)
    encoder = DenseImageEncoder(clip.model.visual, ext.grid).eval()
    weak_only = ViewMaker(clip.preprocess_cfg, replace(ext, views=1))
    all_views = ViewMaker(clip.preprocess_cfg, ext)
    text = encode_prompts(clip, prompt_names, list(ext.templates), rt.device).numpy()
    spec = encoder_spec(clip_cfg, ext, clip, encoder)
    with atomic_path(out, is_dir=True) as tmp:
        write_encoding(tmp, spec, classes, prompt_names, text)
        for split, table in tables.items():
            views = all_views if split == "train" else weak_only
            write_image_features(table, encoder, views, rt, tmp / split, desc=f"extract {split}")
    typer.echo(f"extracted {sum(t.num_rows for t in tables.values())} images with {clip_cfg.model} on {rt.device}")


if __name__ == "__main__":
    cli()
