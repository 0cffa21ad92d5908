"""scikit-learn's handwritten digit scans, partitioned once, and the drawing they share.

The 1,797 8x8 scans are split per digit in a fixed seeded order: the first
``PRETRAIN_FRACTION`` of each digit's scans belong to the embedded CLIP's pretraining
corpus and nothing else; the digit scenes draw their train and test pools from the
rest, whatever their own seed. So no scan a scene uses was ever seen in pretraining.
The partition seed is a constant on purpose: were it a param, changing it would move
scene scans into the shipped CLIP's pretraining set.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

#: Share of each digit's scans reserved for pretraining the embedded CLIP.
PRETRAIN_FRACTION = 0.4
_PARTITION_SEED = 2412_18842

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]

ScanPool = dict[int, np.ndarray]  # digit -> (n, 8, 8) float scans in [0, 1]


@lru_cache(maxsize=1)
def _partition() -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per digit, (pretraining scans, scene scans), in the fixed seeded order."""
    data = load_digits()
    pretrain, scenes = {}, {}
    for d in range(10):
        idx = np.random.default_rng([_PARTITION_SEED, d]).permutation(np.flatnonzero(data.target == d))
        n_pre = int(round(len(idx) * PRETRAIN_FRACTION))
        pretrain[d] = data.images[idx[:n_pre]] / 16.0
        scenes[d] = data.images[idx[n_pre:]] / 16.0
    return pretrain, scenes


def pretraining_scans() -> ScanPool:
    """The scans reserved for the embedded CLIP's pretraining."""
    return dict(_partition()[0])


def scene_scans() -> ScanPool:
    """The scans the digit scenes may use (never seen in pretraining)."""
    return dict(_partition()[1])


def split_pool(pool: ScanPool, fraction: float, rng: np.random.Generator) -> tuple[ScanPool, ScanPool]:
    """Per digit, a seeded (first ``fraction``, rest) partition of ``pool``, each part non-empty."""
    first, rest = {}, {}
    for d, scans in pool.items():
        order = rng.permutation(len(scans))
        n = min(max(1, int(round(len(scans) * fraction))), len(scans) - 1)
        first[d], rest[d] = scans[order[:n]], scans[order[n:]]
    return first, rest


def gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    """A linear two-colour gradient at a random angle, float32 (H, W, 3) in 0..255."""
    a, b = rng.uniform(0, 255, size=(2, 3))
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    t = np.cos(angle) * xx + np.sin(angle) * yy
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    return (a * (1 - t[..., None]) + b * t[..., None]).astype(np.float32)


def contrasting_colour(rng: np.random.Generator, luminance: float) -> np.ndarray:
    """A random colour on the other side of mid-grey from the background."""
    lo, hi = (0, 90) if luminance > 127 else (165, 255)
    return rng.uniform(lo, hi, size=3).astype(np.float32)


def paste_scan(canvas: np.ndarray, scan: np.ndarray, y0: int, x0: int, side: int, colour: np.ndarray) -> None:
    """Draw ``scan`` upscaled to ``side`` pixels at (y0, x0) in ``colour``, in place."""
    glyph = Image.fromarray((scan * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR)
    alpha = np.asarray(glyph, dtype=np.float32)[..., None] / 255.0
    patch = canvas[y0 : y0 + side, x0 : x0 + side]
    canvas[y0 : y0 + side, x0 : x0 + side] = patch * (1 - alpha) + colour * alpha


def to_image(canvas: np.ndarray) -> Image.Image:
    return Image.fromarray(canvas.round().clip(0, 255).astype(np.uint8))
