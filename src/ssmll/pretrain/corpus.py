"""Image-caption pairs for pretraining an embedded CLIP, rendered from its vocabulary's pretraining looks.

Pretraining images are not the downstream scenes: one to three objects (digit scans, and
drawn shapes in the ``objects`` vocabulary) placed freely (no grid), at sizes that shrink
with their number, on the scenes' gradient backgrounds. Each time an image is drawn into a
batch it gets a fresh caption: a template filled with the classes it names, in random
order, as words or (sometimes, for digits) numerals; with ``subset_prob`` only a random
non-empty subset of its classes is named. A caption is a
true statement about every image that holds the classes it names, which is what the
loss's multi-positive targets encode (``loss.subset_targets``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ssmll.core.errors import UserError
from ssmll.data.scenes.prompts import DIGIT_TEMPLATES
from ssmll.data.scenes.scans import ScanPool, contrasting_colour, gradient, paste_scan, split_pool
from ssmll.data.scenes.vocabulary import Vocabulary, vocabulary

TEMPLATES = DIGIT_TEMPLATES + (
    "there is a {} in this image.",
    "a scan of the digit {}.",
    "the handwritten number {}.",
    "{} on a coloured background.",
    "a drawing of {}.",
    "{}.",
)


@dataclass(frozen=True)
class CorpusConfig:
    vocabulary: str = "digits"  # the classes: digits | objects (ssmll.data.scenes.vocabulary)
    images: int = 30000  # pre-rendered training images (captions are drawn afresh)
    val_images: int = 1000  # held-out images from held-out scans, to judge the recipe by
    val_fraction_of_scans: float = 0.2  # of the pretraining scans, kept for validation only
    image_size: int = 64
    min_objects: int = 1
    max_objects: int = 3
    min_side: int = 14  # object size in pixels; the largest shrinks with the number of objects
    subset_prob: float = 0.5
    numeral_prob: float = 0.2
    templates: tuple[str, ...] = TEMPLATES
    seed: int = 0

    def validate(self) -> None:
        if self.images < 1 or self.val_images < 1:
            raise UserError("corpus.images and corpus.val_images must be at least 1")
        n = len(vocabulary(self.vocabulary).names)
        if not 1 <= self.min_objects <= self.max_objects <= n:
            raise UserError(f"corpus needs 1 <= min_objects <= max_objects <= {n} (its vocabulary's classes)")
        if not 0.0 < self.val_fraction_of_scans < 1.0:
            raise UserError("corpus.val_fraction_of_scans must be within (0, 1)")
        if not 4 <= self.min_side <= self.image_size // 2:
            raise UserError(f"corpus.min_side must be within [4, image_size / 2 = {self.image_size // 2}]")
        if not (0.0 <= self.subset_prob <= 1.0 and 0.0 <= self.numeral_prob <= 1.0):
            raise UserError("corpus.subset_prob and corpus.numeral_prob must be within [0, 1]")
        if not self.templates or any("{}" not in t for t in self.templates):
            raise UserError("corpus.templates must be a non-empty list of strings that each contain {}")


@dataclass
class RenderedImages:
    pixels: np.ndarray  # (N, H, W, 3) uint8
    labels: list[frozenset[int]]  # class indices in each image


def render_image(rng: np.random.Generator, scans: ScanPool, cfg: CorpusConfig) -> tuple[np.ndarray, frozenset[int]]:
    """One pretraining image (H, W, 3) uint8 and the classes in it."""
    size = cfg.image_size
    k = int(rng.integers(cfg.min_objects, cfg.max_objects + 1))
    labels = [int(d) for d in rng.choice(len(scans), size=k, replace=False)]
    canvas = gradient(rng, size)
    luminance = canvas.mean()
    top = max(cfg.min_side, int(0.9 * size / math.sqrt(k)))
    boxes: list[tuple[int, int, int]] = []
    for d in labels:
        y0, x0, side = _free_box(rng, size, cfg.min_side, top, boxes)
        boxes.append((y0, x0, side))
        scan = scans[d][rng.integers(len(scans[d]))]
        paste_scan(canvas, scan, y0, x0, side, contrasting_colour(rng, luminance))
    return canvas.round().clip(0, 255).astype(np.uint8), frozenset(labels)


def _free_box(
    rng: np.random.Generator, size: int, lo: int, hi: int, taken: list[tuple[int, int, int]], tries: int = 20
) -> tuple[int, int, int]:
    """A random square that overlaps none of ``taken`` (the last try is kept if none fits)."""
    for _ in range(tries):
        side = int(rng.integers(lo, hi + 1))
        y0, x0 = (int(v) for v in rng.integers(0, size - side + 1, size=2))
        if all(y0 + side <= y or y + s <= y0 or x0 + side <= x or x + s <= x0 for y, x, s in taken):
            break
    return y0, x0, side


def render_images(n: int, scans: ScanPool, cfg: CorpusConfig, stream: int) -> RenderedImages:
    """``n`` images, image i a pure function of (seed, stream, i)."""
    pixels = np.empty((n, cfg.image_size, cfg.image_size, 3), dtype=np.uint8)
    labels = []
    for i in range(n):
        pixels[i], d = render_image(np.random.default_rng([cfg.seed, stream, i]), scans, cfg)
        labels.append(d)
    return RenderedImages(pixels, labels)


def build_corpus(cfg: CorpusConfig) -> tuple[RenderedImages, RenderedImages]:
    """Training and validation images, from disjoint parts of the pretraining scans."""
    cfg.validate()
    val_scans, train_scans = split_pool(
        vocabulary(cfg.vocabulary).pretraining(), cfg.val_fraction_of_scans, np.random.default_rng([cfg.seed, 7])
    )
    return render_images(cfg.images, train_scans, cfg, stream=0), render_images(
        cfg.val_images, val_scans, cfg, stream=1
    )


def caption(
    rng: np.random.Generator, labels: frozenset[int], cfg: CorpusConfig, vocab: Vocabulary
) -> tuple[str, frozenset[int]]:
    """A caption naming all of ``labels`` or (with ``subset_prob``) a non-empty subset; and what it names."""
    named = rng.permutation(sorted(labels))
    if len(named) > 1 and rng.random() < cfg.subset_prob:
        named = named[: int(rng.integers(1, len(named)))]
    words = [_word(d, rng.random() < cfg.numeral_prob, vocab) for d in named]
    template = cfg.templates[int(rng.integers(len(cfg.templates)))]
    return template.format(join_names(words)), frozenset(int(d) for d in named)


def _word(label: int, as_numeral: bool, vocab: Vocabulary) -> str:
    return vocab.numerals[label] if as_numeral and label in vocab.numerals else vocab.names[label]


def join_names(words: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]
