"""The one place an image encoder is assembled: CLIP by name and weights, its dense image tower, its views.

extract, ``ssmll predict``, the benchmarks, the studies and the embedded CLIP's pretraining all
build their encoder here, so that what is extracted, what is predicted and what is measured are
one encoder, built one way.
"""

from __future__ import annotations

from importlib.metadata import version
from pathlib import Path

from ssmll.core.errors import UserError
from ssmll.core.files import json_values, sha256
from ssmll.encoding.clip import DenseImageEncoder, LoadedClip, load_clip, vit_local_path
from ssmll.encoding.record import EncoderSpec
from ssmll.encoding.views import ViewConfig, ViewMaker


def dense_encoder(clip: LoadedClip, grid: int | None = None, vit_local: str = "block") -> DenseImageEncoder:
    """``clip``'s image tower returning global and grid-pooled local embeddings (grid None: the tower's own)."""
    if grid is None:
        grid = int(clip.model.visual.grid_size[0])
    return DenseImageEncoder(clip.model.visual, grid, vit_local).eval()


def create_encoder(
    model: str, pretrained: str, grid: int | None = None, vit_local: str = "block", seed: int = 0, device: str = "cpu"
) -> tuple[LoadedClip, DenseImageEncoder]:
    """CLIP ``model`` with weights ``pretrained`` (``none``, a checkpoint file or a tag), and its dense encoder."""
    clip = load_clip(model, pretrained, seed=seed, device=device)
    return clip, dense_encoder(clip, grid, vit_local)


def plain_views(clip: LoadedClip) -> ViewMaker:
    """View 0 alone (CLIP's own resize and crop): what test images, new images and benchmarks are encoded with."""
    return ViewMaker(clip.preprocess_cfg, ViewConfig(views=1))


def encoder_from_spec(
    spec: EncoderSpec, device: str = "cpu", weights: str | None = None
) -> tuple[DenseImageEncoder, ViewMaker]:
    """The encoder ``spec`` records, and its plain view, rebuilt exactly (as extract built them).

    ``weights`` replaces the recorded checkpoint path (a copy elsewhere); its sha256 must match.
    """
    pretrained = weights or spec.pretrained
    if spec.pretrained_sha256:  # a checkpoint file
        path = Path(pretrained)
        if not path.is_file():
            raise UserError(
                f"CLIP checkpoint {path} not found; pass the file the model was trained with"
                f" (sha256 {spec.pretrained_sha256})"
            )
        if sha256(path) != spec.pretrained_sha256:
            raise UserError(
                f"CLIP checkpoint {path} is not the one the model was trained with (sha256 {spec.pretrained_sha256})"
            )
    clip, encoder = create_encoder(
        spec.model, pretrained, spec.grid, vit_local_path(spec.local_tokens), spec.seed, device
    )
    got = (json_values(clip.preprocess_cfg), encoder.local_tokens)
    if got != (spec.preprocess, spec.local_tokens):
        raise UserError(
            f"open_clip {version('open_clip_torch')} builds {spec.model} otherwise than {spec.open_clip_version} did "
            f"(preprocessing {got[0]}, local tokens {got[1]!r}); install open_clip_torch=={spec.open_clip_version}"
        )
    return encoder, plain_views(clip)
