"""Augmented views of an image, each a pure function of (seed, image id, view index).

View 0 (the "weak" view: pseudo-labels, evaluation, the linear probe, ``ssmll predict``)
is the whole image resized to CLIP's input size, as CAP resizes its images, with CLIP's
normalisation; views 1..V-1 are random resized crops of the same whole image, optional
flips and colour jitter (the "strong" views). So the plain view and the training views
frame an image alike: a centre crop would drop the sides of a 4:3 photo that every
training view still shows. Seeding per image and view makes the cached views
independent of batch size, worker count and order.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from ssmll.core.errors import UserError


@dataclass(frozen=True)
class ViewConfig:
    views: int = 3
    crop_scale: tuple[float, float] = (0.8, 1.0)
    hflip: float = 0.0
    jitter: float = 0.4
    seed: int = 0

    def validate(self) -> None:
        if self.views < 1:
            raise UserError("extract.views must be at least 1 (view 0 is the plain image)")
        lo, hi = self.crop_scale
        if not 0.0 < lo <= hi <= 1.0:
            raise UserError(f"extract.crop_scale must satisfy 0 < min <= max <= 1, got {list(self.crop_scale)}")
        if not 0.0 <= self.hflip <= 1.0 or self.jitter < 0:
            raise UserError("extract.hflip must be within [0, 1] and extract.jitter non-negative")


class ViewMaker:
    """Turns one RGB image into a (V, 3, H, W) tensor of its views."""

    def __init__(self, preprocess_cfg: dict, cfg: ViewConfig):
        # Imported here: the config above is read by stages that never transform an image
        # (train, evaluate), and open_clip with torchvision costs them memory (docs/scale.md).
        from torchvision import transforms as T

        cfg.validate()
        self.cfg = cfg
        size = preprocess_cfg["size"]
        size = size if isinstance(size, int) else tuple(size)
        size = (size, size) if isinstance(size, int) else size
        interp = (
            T.InterpolationMode.BICUBIC
            if preprocess_cfg.get("interpolation") == "bicubic"
            else T.InterpolationMode.BILINEAR
        )
        to_tensor = [T.ToTensor(), T.Normalize(preprocess_cfg["mean"], preprocess_cfg["std"])]
        self.weak = T.Compose([T.Resize(size, interpolation=interp), *to_tensor])
        j = cfg.jitter
        self.strong = T.Compose(
            [
                T.RandomResizedCrop(size, scale=tuple(cfg.crop_scale), interpolation=interp),
                T.RandomHorizontalFlip(cfg.hflip),
                T.ColorJitter(j, j, j, min(j / 4, 0.5)),
                *to_tensor,
            ]
        )

    def __call__(self, img: Image.Image, image_id: str) -> torch.Tensor:
        out = [self.weak(img)]
        for view in range(1, self.cfg.views):
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(view_seed(self.cfg.seed, image_id, view))
                out.append(self.strong(img))
        return torch.stack(out)


def view_seed(seed: int, image_id: str, view: int) -> int:
    """A 63-bit seed from the run seed, the image id and the view index."""
    entropy = [seed, zlib.crc32(image_id.encode()), view]
    return int(np.random.SeedSequence(entropy).generate_state(2, dtype=np.uint32).astype(np.uint64)[0]) | (view << 32)
