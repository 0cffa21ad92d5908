"""Where label-specific zero-shot stands against the global embedding, and why.

Zero-shot reads out of the CLIP of params.yaml, on the images of the prepared dataset
(`dvc repro prepare` first): the global embedding against each class's prompt ensemble,
the best single local token, and label-specific attention of each class text over the
local tokens (with and without the global token, at several inverse temperatures), for
the tokens after every transformer block (through the final norm and projection, as
extract takes the last), and for zoomed crops' embeddings (``extract.crops``, 2 x 2 unless
params.yaml sets a layout). Prints a Markdown table of mAP.

By default it scores the labeled part of the training pool (`dvc repro split` first):
choosing a read-out there is within the protocol. ``--on test`` reports the test set.

    python studies/label_specific.py --on labeled
"""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch
import torch.nn.functional as F
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ssmll.core.config import from_params  # noqa: E402
from ssmll.core.runtime import Runtime  # noqa: E402
from ssmll.data.tables import multihot, read_classes, read_split  # noqa: E402
from ssmll.encoding.clip import encode_prompts, load_clip  # noqa: E402
from ssmll.encoding.extraction import encode_table  # noqa: E402
from ssmll.encoding.factory import dense_encoder, plain_views  # noqa: E402
from ssmll.encoding.record import ClipConfig, ExtractConfig  # noqa: E402
from ssmll.encoding.zeroshot import image_tokens, zeroshot_label_specific  # noqa: E402
from ssmll.evaluation.average_precision import mean_ap  # noqa: E402

SCALES = (3.0, 10.0, 30.0, 100.0)


class LayerTokens(torch.nn.Module):
    """A ViT's tokens after block ``layer`` (1-based), through the final norm and projection."""

    def __init__(self, visual: torch.nn.Module, layer: int):
        super().__init__()
        self.visual, self.layer = visual, layer

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        v = self.visual
        h = v._embeds(x)
        for block in v.transformer.resblocks[: self.layer]:
            h = block(h)
        pooled, patches = v._pool(h)
        if v.proj is not None:
            pooled, patches = pooled @ v.proj, patches @ v.proj
        return F.normalize(pooled.float(), dim=-1), F.normalize(patches.float(), dim=-1)


def readouts(g: torch.Tensor, local: torch.Tensor, text: torch.Tensor, y: np.ndarray) -> dict[str, float]:
    """mAP of each read-out of the global and local tokens against the class texts."""
    out = {
        "global": mean_ap(y, (g @ text.T).numpy()),
        "best token": mean_ap(y, torch.einsum("btd,cd->bct", local, text).amax(-1).numpy()),
    }
    for with_global in (False, True):
        tokens = image_tokens(g, local, with_global)
        for scale in SCALES:
            name = f"attention {scale:g}" + (" + global" if with_global else "")
            out[name] = mean_ap(y, zeroshot_label_specific(tokens, text, scale).numpy())
    return out


#: Whose images are read out: the labeled part of the training pool (to choose), or the test set (to report).
Part = Enum("Part", {name: name for name in ("labeled", "test")}, type=str)  # type: ignore[misc]


def main(
    on: Part = typer.Option("labeled", help="labeled (the labeled part of the training pool) or test."),
    params: Path = typer.Option(ROOT / "params.yaml", help="params.yaml to read clip, extract and split from."),
    data: Path = typer.Option(ROOT / "data", help="Folder with prepared/ and split/."),
) -> None:
    p = yaml.safe_load(params.read_text())
    clip_cfg = from_params(ClipConfig, p["clip"], "clip")
    extract = from_params(ExtractConfig, p["extract"], "extract")
    clip = load_clip(clip_cfg.model, clip_cfg.pretrained, seed=clip_cfg.seed)
    classes, prompt_names = read_classes(data / "prepared")
    if on == "labeled":
        table = read_split(data / "prepared", "train")
        labeled = pq.read_table(data / "split" / "split.parquet").column("labeled").to_numpy()
        table = table.filter(labeled)
    else:
        table = read_split(data / "prepared", "test")
    y = multihot(table.column("labels"), len(classes))
    text = encode_prompts(clip, prompt_names, list(extract.templates))
    views = plain_views(clip)
    rt = Runtime(workers=0, progress=False)
    rows = {}
    layers = len(clip.model.visual.transformer.resblocks)
    encoders = {f"block {layer}": LayerTokens(clip.model.visual, layer) for layer in range(1, layers)}
    for path in ("block", "value"):  # the last block's output, and its value path (MaskCLIP): extract.vit_local
        name = (
            f"block {layers}"
            + (" value path" if path == "value" else "")
            + (" (extract)" if path == extract.vit_local and not extract.crops else "")
        )
        encoders[name] = dense_encoder(clip, extract.grid, path)
    crops, size = extract.crops or 2, extract.crop_size
    label = f"crops {crops} x {crops} of side {size:g}" + (" (extract)" if extract.crops else "")
    encoders[label] = dense_encoder(clip, crops=crops, crop_size=size)
    for name, encoder in encoders.items():
        g, loc = (
            torch.from_numpy(np.concatenate(a)).float() for a in zip(*encode_table(table, encoder.eval(), views, rt))
        )
        rows[name] = readouts(g[:, 0], loc[:, 0], text, y)
    names = list(next(iter(rows.values())))
    typer.echo(f"zero-shot mAP on {len(y)} {on} images, {clip_cfg.model} ({clip_cfg.pretrained})\n")
    typer.echo("| tokens | " + " | ".join(names) + " |")
    typer.echo("|---" * (len(names) + 1) + "|")
    for row, values in rows.items():
        typer.echo(f"| {row} | " + " | ".join(f"{values[n]:.1f}" for n in names) + " |")


if __name__ == "__main__":
    typer.run(main)
