"""Digit scenes: the embedded default dataset, built from scikit-learn's handwritten digits.

Each scene is a colour image with 1..4 real 8x8 digit scans (upscaled) at random cells,
scales, offsets and colours on a random two-colour gradient. Its labels are the digits
present. Co-occurrence is structured: a scene first draws one hidden context (a group of
digits) and picks each digit from it with probability ``in_group_prob``, else from the
other digits, so a context-identification task has something to recover. Train and test
scenes use disjoint source scans. Everything is a pure function of the config and seed.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image
from sklearn.datasets import load_digits

from ssmll.errors import UserError
from ssmll.prepared import PreparedDataset, make_table

CLASS_NAMES = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
_SPLIT_CODE = {"train": 0, "test": 1}


@dataclass(frozen=True)
class DigitScenesConfig:
    n_train: int = 4000
    n_test: int = 1000
    image_size: int = 224
    min_digits: int = 1
    max_digits: int = 4
    groups: list[list[int]] = field(default_factory=lambda: [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]])
    in_group_prob: float = 0.9
    test_fraction_of_scans: float = 0.3
    seed: int = 0

    def validate(self) -> None:
        """Reject impossible settings with a message that names the param."""
        if self.n_train < 1 or self.n_test < 1:
            raise UserError("data.digits.n_train and n_test must be at least 1")
        if self.image_size < 32:
            raise UserError(f"data.digits.image_size={self.image_size} is too small; use at least 32")
        if not 1 <= self.min_digits <= self.max_digits <= 9:
            raise UserError("data.digits needs 1 <= min_digits <= max_digits <= 9")
        if not 0.0 <= self.in_group_prob <= 1.0:
            raise UserError("data.digits.in_group_prob must be within [0, 1]")
        if not 0.0 < self.test_fraction_of_scans < 1.0:
            raise UserError("data.digits.test_fraction_of_scans must be within (0, 1)")
        flat = [d for g in self.groups for d in g]
        if not self.groups or any(not g for g in self.groups):
            raise UserError("data.digits.groups must be a non-empty list of non-empty digit lists")
        if sorted(flat) != sorted(set(flat)) or not set(flat) <= set(range(10)):
            raise UserError(f"data.digits.groups must hold distinct digits 0..9, got {self.groups}")


def build(cfg: DigitScenesConfig) -> PreparedDataset:
    """Generate the train and test scenes as a prepared dataset (PNG bytes embedded)."""
    cfg.validate()
    scans = _split_scans(cfg)
    tables = {}
    for split, n in (("train", cfg.n_train), ("test", cfg.n_test)):
        ids, labels, images = [], [], []
        for i in range(n):
            rng = np.random.default_rng([cfg.seed, _SPLIT_CODE[split], i])
            img, digits = render_scene(rng, scans[split], cfg)
            ids.append(f"{split}_{i:06d}")
            labels.append(digits)
            images.append(_png(img))
        tables[split] = make_table(ids, labels, images=images)
    info = {"digits": {"groups": cfg.groups, "in_group_prob": cfg.in_group_prob}}
    return PreparedDataset(CLASS_NAMES, CLASS_NAMES, tables, info=info, groups=cfg.groups)


def _split_scans(cfg: DigitScenesConfig) -> dict[str, dict[int, np.ndarray]]:
    """Per digit, a seeded disjoint partition of sklearn's scans into train and test pools."""
    data = load_digits()
    rng = np.random.default_rng([cfg.seed, 99])
    pools: dict[str, dict[int, np.ndarray]] = {"train": {}, "test": {}}
    for d in range(10):
        idx = rng.permutation(np.flatnonzero(data.target == d))
        n_test = max(1, int(round(len(idx) * cfg.test_fraction_of_scans)))
        pools["test"][d] = data.images[idx[:n_test]] / 16.0
        pools["train"][d] = data.images[idx[n_test:]] / 16.0
    return pools


def draw_digits(rng: np.random.Generator, cfg: DigitScenesConfig) -> list[int]:
    """Draw the distinct digits of one scene from one hidden context."""
    group = cfg.groups[rng.integers(len(cfg.groups))]
    k = int(rng.integers(cfg.min_digits, cfg.max_digits + 1))
    chosen: list[int] = []
    for _ in range(k):
        inside = [d for d in group if d not in chosen]
        outside = [d for d in range(10) if d not in group and d not in chosen]
        pool = inside if (rng.random() < cfg.in_group_prob and inside) or not outside else outside
        chosen.append(int(rng.choice(pool)))
    return chosen


def render_scene(
    rng: np.random.Generator, scans: dict[int, np.ndarray], cfg: DigitScenesConfig
) -> tuple[Image.Image, list[int]]:
    """One scene image and its digit labels."""
    digits = draw_digits(rng, cfg)
    size = cfg.image_size
    canvas = _gradient(rng, size)
    grid = math.ceil(math.sqrt(cfg.max_digits))
    cell = size // grid
    cells = rng.choice(grid * grid, size=len(digits), replace=False)
    luminance = canvas.mean()
    for d, c in zip(digits, cells):
        scan = scans[d][rng.integers(len(scans[d]))]
        side = int(cell * rng.uniform(0.55, 0.95))
        glyph = Image.fromarray((scan * 255).astype(np.uint8)).resize((side, side), Image.BILINEAR)
        alpha = np.asarray(glyph, dtype=np.float32)[..., None] / 255.0
        y0 = (c // grid) * cell + int(rng.integers(0, cell - side + 1))
        x0 = (c % grid) * cell + int(rng.integers(0, cell - side + 1))
        colour = _contrasting_colour(rng, luminance)
        patch = canvas[y0 : y0 + side, x0 : x0 + side]
        canvas[y0 : y0 + side, x0 : x0 + side] = patch * (1 - alpha) + colour * alpha
    return Image.fromarray(canvas.round().clip(0, 255).astype(np.uint8)), digits


def _gradient(rng: np.random.Generator, size: int) -> np.ndarray:
    """A linear two-colour gradient at a random angle, float32 (H, W, 3) in 0..255."""
    a, b = rng.uniform(0, 255, size=(2, 3))
    angle = rng.uniform(0, 2 * math.pi)
    yy, xx = np.mgrid[0:size, 0:size] / max(size - 1, 1)
    t = (np.cos(angle) * xx + np.sin(angle) * yy)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-6)
    return (a * (1 - t[..., None]) + b * t[..., None]).astype(np.float32)


def _contrasting_colour(rng: np.random.Generator, luminance: float) -> np.ndarray:
    """A random colour on the other side of mid-grey from the background."""
    lo, hi = (0, 90) if luminance > 127 else (165, 255)
    return rng.uniform(lo, hi, size=3).astype(np.float32)


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()
