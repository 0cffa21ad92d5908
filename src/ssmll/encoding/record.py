"""How images and class prompts are encoded, and the record of it.

The ``clip`` and ``extract`` params (:class:`ClipConfig`, :class:`ExtractConfig`); the
record of the encoder that the extract stage ran, enough to rebuild it exactly
(:class:`EncoderSpec`, ``meta.json``); and the class text embeddings (``text.parquet``:
class_index, class_name, prompt_name, embedding). This module writes and reads both
files of the features directory; the image shards are :mod:`ssmll.encoding.store`'.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ssmll.core.errors import UserError
from ssmll.core.files import dumps_json, fp16_rows, json_values, read_json, rows_to_numpy, sha256, write_table_to
from ssmll.data.scenes.prompts import OBJECT_TEMPLATES
from ssmll.encoding.views import ViewConfig

if TYPE_CHECKING:
    from ssmll.encoding.clip import DenseImageEncoder, LoadedClip


@dataclass(frozen=True)
class ClipConfig:
    model: str = "ssmll-digits-ViT-8"  # an open_clip architecture (this one: the embedded CLIPs')
    pretrained: str = "models/objects-clip/weights.safetensors"  # a checkpoint file, an open_clip tag, or none (random)
    seed: int = 0  # initialises random weights when pretrained is none


@dataclass(frozen=True)
class ExtractConfig(ViewConfig):
    """The views to cache (a :class:`ViewConfig`), the local tokens and the prompt templates."""

    crops: int = 2  # local tokens: crops x crops zoomed crops' embeddings; 0: the tower's patch grid
    crop_size: float = 0.5  # a crop's side, as a fraction of the image's
    grid: int = 8  # crops 0 only: the patch tokens pooled to grid x grid positions
    vit_local: str = "block"  # crops 0 only: block (the last block's output) | value (its value path, MaskCLIP)
    templates: tuple[str, ...] = OBJECT_TEMPLATES  # the default world's classes

    def validate(self) -> None:
        super().validate()
        if self.crops < 0 or not 0.0 < self.crop_size <= 1.0:
            raise UserError(
                f"extract.crops must be 0 or more and extract.crop_size within (0, 1], "
                f"got {self.crops} and {self.crop_size}"
            )
        if self.grid < 1:
            raise UserError("extract.grid must be at least 1")
        if self.vit_local not in ("block", "value"):
            raise UserError(f"extract.vit_local={self.vit_local!r}; choose block or value")


@dataclass(frozen=True)
class EncoderSpec:
    """The image encoder the features came from: CLIP, its weights, preprocessing, grid, prompts."""

    model: str
    pretrained: str  # none, an open_clip tag, or a checkpoint path as given in the params
    pretrained_sha256: str  # of that checkpoint file; "" for a tag or none
    seed: int  # the random weights' seed when pretrained is none
    open_clip_version: str
    preprocess: dict[str, Any]  # open_clip's preprocess config: size (the image size), mean, std, ...
    local_tokens: str  # which tokens the local embeddings are (DenseImageEncoder.local_tokens)
    crops: int
    crop_size: float
    grid: int
    dim: int
    templates: tuple[str, ...]
    views: int  # cached views per training image (view 0 is the plain one)


def encoder_spec(cfg: ClipConfig, ext: ExtractConfig, clip: LoadedClip, encoder: DenseImageEncoder) -> EncoderSpec:
    """The record of ``clip`` (loaded from ``cfg``) and ``encoder`` run with ``ext``."""
    return EncoderSpec(
        model=cfg.model,
        pretrained=cfg.pretrained,
        pretrained_sha256=sha256(Path(cfg.pretrained)) if _is_checkpoint(cfg.pretrained) else "",
        seed=cfg.seed,
        open_clip_version=version("open_clip_torch"),
        preprocess=json_values(clip.preprocess_cfg),
        local_tokens=encoder.local_tokens,
        crops=ext.crops,
        crop_size=ext.crop_size,
        grid=ext.grid,
        dim=clip.dim,
        templates=tuple(ext.templates),
        views=ext.views,
    )


def _is_checkpoint(pretrained: str) -> bool:
    return pretrained.lower() != "none" and Path(pretrained).is_file()


def write_encoding(
    out_dir: Path, spec: EncoderSpec, classes: list[str], prompt_names: list[str], text: np.ndarray
) -> None:
    """``meta.json`` and ``text.parquet`` into ``out_dir`` (a directory being written atomically)."""
    table = pa.table(
        {
            "class_index": pa.array(np.arange(len(classes), dtype=np.int16)),
            "class_name": pa.array(classes, pa.string()),
            "prompt_name": pa.array(prompt_names, pa.string()),
            "embedding": fp16_rows(text),
        }
    )
    write_table_to(table, out_dir / "text.parquet")
    (out_dir / "meta.json").write_text(dumps_json(dataclasses.asdict(spec)))


def read_encoder_spec(features_dir: Path) -> EncoderSpec:
    path = Path(features_dir) / "meta.json"
    if not path.is_file():
        raise UserError(f"{path} not found; run the extract stage first")
    obj = read_json(path)
    try:
        return EncoderSpec(**{**obj, "templates": tuple(obj["templates"])})
    except (KeyError, TypeError):
        raise UserError(f"{path} was written by another version of ssmll; re-run the extract stage") from None


def read_text_features(features_dir: Path) -> np.ndarray:
    """Class text embeddings, (C, D) fp16, in class order."""
    path = Path(features_dir) / "text.parquet"
    if not path.is_file():
        raise UserError(f"{path} not found; run the extract stage first")
    return rows_to_numpy(pq.read_table(path).column("embedding"))
