"""The one place an image encoder is assembled: CLIP by name and weights, its dense image tower, its views.

extract, ``ssmll predict``, the benchmarks, the studies and the embedded CLIP's pretraining all
build their encoder here, so that what is extracted, what is predicted and what is measured are
one encoder, built one way. It imports no more than that needs, so that the pretraining stage,
which depends on it, is not made stale by edits elsewhere.
"""

from __future__ import annotations

from ssmll.encoding.clip import DenseImageEncoder, LoadedClip, load_clip
from ssmll.encoding.views import ViewConfig, ViewMaker


def dense_encoder(
    clip: LoadedClip, grid: int | None = None, vit_local: str = "block", crops: int = 0, crop_size: float = 0.5
) -> DenseImageEncoder:
    """``clip``'s image tower returning global and local embeddings: zoomed crops', or its patch grid's
    pooled to ``grid`` (None: the tower's own)."""
    if grid is None:
        grid = int(clip.model.visual.grid_size[0])
    return DenseImageEncoder(clip.model.visual, grid, vit_local, crops, crop_size).eval()


def create_encoder(
    model: str,
    pretrained: str,
    grid: int | None = None,
    vit_local: str = "block",
    seed: int = 0,
    device: str = "cpu",
    crops: int = 0,
    crop_size: float = 0.5,
) -> tuple[LoadedClip, DenseImageEncoder]:
    """CLIP ``model`` with weights ``pretrained`` (``none``, a checkpoint file or a tag), and its dense encoder."""
    clip = load_clip(model, pretrained, seed=seed, device=device)
    return clip, dense_encoder(clip, grid, vit_local, crops, crop_size)


def plain_views(clip: LoadedClip) -> ViewMaker:
    """View 0 alone (CLIP's own resize and crop): what test images, new images and benchmarks are encoded with."""
    return ViewMaker(clip.preprocess_cfg, ViewConfig(views=1))
