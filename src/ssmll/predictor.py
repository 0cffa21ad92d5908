"""Labeling new images with a trained model, encoding them exactly as the extract stage did.

The encoder is rebuilt from the record that extract wrote (:class:`EncoderSpec`): the
same CLIP weights (a checkpoint is checked by its sha256), preprocessing, grid and
local-token path, and images go through the same plain view and the same batched
encoding (:func:`ssmll.features.encode_table`).
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from ssmll.clip import DenseImageEncoder, load_clip
from ssmll.encoding import EncoderSpec, sha256
from ssmll.errors import UserError
from ssmll.io import json_values
from ssmll.views import ViewConfig, ViewMaker


def build_encoder(spec: EncoderSpec, device: str = "cpu", weights: str | None = None) -> tuple[DenseImageEncoder, ViewMaker]:
    """The encoder ``spec`` records, and its plain view, rebuilt exactly (as extract built them).

    ``weights`` replaces the recorded checkpoint path (a copy elsewhere); its sha256 must match.
    """
    pretrained = weights or spec.pretrained
    if spec.pretrained_sha256:  # a checkpoint file
        path = Path(pretrained)
        if not path.is_file():
            raise UserError(
                f"CLIP checkpoint {path} not found; pass the file the model was trained with (sha256 {spec.pretrained_sha256})"
            )
        if sha256(path) != spec.pretrained_sha256:
            raise UserError(f"CLIP checkpoint {path} is not the one the model was trained with (sha256 {spec.pretrained_sha256})")
    clip = load_clip(spec.model, pretrained, seed=spec.seed, device=device)
    encoder = DenseImageEncoder(clip.model.visual, spec.grid).eval()
    got = (json_values(clip.preprocess_cfg), encoder.local_tokens)
    if got != (spec.preprocess, spec.local_tokens):
        raise UserError(
            f"open_clip {version('open_clip_torch')} builds {spec.model} otherwise than {spec.open_clip_version} did "
            f"(preprocessing {got[0]}, local tokens {got[1]!r}); install open_clip_torch=={spec.open_clip_version}"
        )
    return encoder, ViewMaker(clip.preprocess_cfg, ViewConfig(views=1))
