"""Digit scenes: the embedded default dataset, built from scikit-learn's handwritten digits.

Each scene is a colour image with 1..4 real 8x8 digit scans (upscaled) at random cells,
scales, offsets and colours on a random two-colour gradient. Its labels are the digits
present. Co-occurrence is structured: a scene first draws one hidden context (a group of
digits) and picks each digit from it with probability ``in_group_prob``, else from the
other digits, so a context-identification task has something to recover. ``class_skew`` (a Zipf
exponent over a seeded order of the digits) makes class frequencies long-tailed, as in the
benchmarks; 0 draws uniformly within a pool, byte for byte the balanced scenes. Train and test
scenes use disjoint source scans, and neither uses a scan of the embedded CLIP's
pretraining corpus (``digit_scans``). Everything is a pure function of the config and seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from PIL import Image

from ssmll.core.errors import UserError
from ssmll.data.scenes.layout import grid_scene, scene_tables
from ssmll.data.scenes.scans import CLASS_NAMES, ScanPool, scene_scans, split_pool
from ssmll.data.tables import PreparedDataset

__all__ = ["CLASS_NAMES", "DigitScenesConfig", "build", "draw_digits", "render_scene"]


@dataclass(frozen=True)
class DigitScenesConfig:
    n_train: int = 4000
    n_test: int = 1000
    image_size: int = 64
    min_digits: int = 1
    max_digits: int = 4
    groups: list[list[int]] = field(default_factory=lambda: [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]])
    in_group_prob: float = 0.9
    test_fraction_of_scans: float = 0.3
    class_skew: float = 0.0
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
        if self.class_skew < 0:
            raise UserError("data.digits.class_skew must be >= 0 (0: balanced classes)")
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
    sizes = {"train": cfg.n_train, "test": cfg.n_test}
    tables = scene_tables(sizes, cfg.seed, lambda rng, split: render_scene(rng, scans[split], cfg))
    info = {"digits": {"groups": cfg.groups, "in_group_prob": cfg.in_group_prob}}
    return PreparedDataset(CLASS_NAMES, CLASS_NAMES, tables, info=info, groups=cfg.groups)


def _split_scans(cfg: DigitScenesConfig) -> dict[str, ScanPool]:
    """Per digit, a seeded disjoint partition of the scene scans into train and test pools."""
    test, train = split_pool(scene_scans(), cfg.test_fraction_of_scans, np.random.default_rng([cfg.seed, 99]))
    return {"train": train, "test": test}


def class_weights(cfg: DigitScenesConfig) -> np.ndarray:
    """Per digit, its Zipf weight ``rank ** -class_skew`` in a seeded order of the digits (all 1 without skew)."""
    rank = np.empty(10, dtype=np.int64)
    rank[np.random.default_rng([cfg.seed, 7]).permutation(10)] = np.arange(1, 11)
    return rank.astype(np.float64) ** -cfg.class_skew


def draw_digits(rng: np.random.Generator, cfg: DigitScenesConfig) -> list[int]:
    """Draw the distinct digits of one scene from one hidden context."""
    if cfg.class_skew:  # a context as likely as its digits' weights, and a digit within a pool as its weight
        weights = class_weights(cfg)
        mass = np.array([weights[g].sum() for g in cfg.groups])
        group = cfg.groups[rng.choice(len(cfg.groups), p=mass / mass.sum())]
    else:
        weights, group = None, cfg.groups[rng.integers(len(cfg.groups))]
    k = int(rng.integers(cfg.min_digits, cfg.max_digits + 1))
    chosen: list[int] = []
    for _ in range(k):
        inside = [d for d in group if d not in chosen]
        outside = [d for d in range(10) if d not in group and d not in chosen]
        pool = inside if (rng.random() < cfg.in_group_prob and inside) or not outside else outside
        p = None if weights is None else weights[pool] / weights[pool].sum()
        chosen.append(int(rng.choice(pool, p=p)))
    return chosen


def render_scene(rng: np.random.Generator, scans: ScanPool, cfg: DigitScenesConfig) -> tuple[Image.Image, list[int]]:
    """One scene image and its digit labels, on a grid sized for ``max_digits``."""
    digits = draw_digits(rng, cfg)
    return grid_scene(rng, digits, scans, cfg.image_size, math.ceil(math.sqrt(cfg.max_digits))), digits
