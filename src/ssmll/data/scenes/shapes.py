"""Twenty drawn object classes, each with many looks, partitioned once like the digit scans.

A *look* is one drawing of a class: its outline in unit coordinates, put through a seeded
style (rotation within the class's range, squash, a hand-drawn wobble of the vertices,
filled or outlined with a random stroke) and rasterised as a 32x32 coverage mask in [0, 1],
the same kind of array as a digit scan, so scenes and the pretraining corpus paste both
the same way. Every class has ``LOOKS_PER_CLASS`` looks, a pure function of (class, look
index); the first ``PRETRAIN_FRACTION`` of each class's looks in a fixed seeded order belong
to the embedded CLIP's pretraining corpus only, the rest to the scenes. So, as with the
scans, no look a scene uses was seen in pretraining.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw

from ssmll.data.scenes.scans import PRETRAIN_FRACTION, ScanPool

LOOKS_PER_CLASS = 200
MASK_SIZE = 32
_SUPERSAMPLE = 3
_PARTITION_SEED = 2412_18843

Polygon = np.ndarray  # (n, 2) points in unit coordinates, y down
# A drawing: filled polygons to paint, polygons to cut out of them, and open strokes (points, width).
Drawing = tuple[list[Polygon], list[Polygon], list[tuple[Polygon, float]]]


def _circle(r: float = 1.0, cx: float = 0.0, cy: float = 0.0, n: int = 40) -> Polygon:
    t = np.linspace(0, 2 * math.pi, n, endpoint=False)
    return np.stack([cx + r * np.cos(t), cy + r * np.sin(t)], axis=1)


def _regular(k: int, r: float = 1.0, phase: float = -math.pi / 2) -> Polygon:
    t = phase + np.arange(k) * 2 * math.pi / k
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def _star() -> Polygon:
    outer, inner = _regular(5), _regular(5, 0.4, -math.pi / 2 + math.pi / 5)
    return np.stack([outer, inner], axis=1).reshape(-1, 2)


def _bar(length: float, width: float, angle: float) -> Polygon:
    c, s = math.cos(angle), math.sin(angle)
    corners = np.array([[-length, -width], [length, -width], [length, width], [-length, width]])
    return corners @ np.array([[c, s], [-s, c]])


def _heart() -> Polygon:
    t = np.linspace(0, 2 * math.pi, 60, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = 13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t)
    return np.stack([x, -y + 2.5], axis=1) / 17


def _drop() -> Polygon:
    t = np.linspace(0, 2 * math.pi, 48, endpoint=False)
    return np.stack([0.75 * np.sin(t) * np.sin(t / 2) ** 1.2, -np.cos(t)], axis=1)


def _flower() -> Polygon:
    t = np.linspace(0, 2 * math.pi, 90, endpoint=False)
    r = 0.45 + 0.55 * np.abs(np.cos(2.5 * t))
    return np.stack([r * np.cos(t), r * np.sin(t)], axis=1)


def _wave() -> Polygon:
    x = np.linspace(-1, 1, 40)
    return np.stack([x, 0.45 * np.sin(x * 2 * math.pi)], axis=1)


#: class name -> (drawing, largest rotation in degrees: 180 for shapes that may point anywhere)
SHAPES: dict[str, tuple[Callable[[], Drawing], float]] = {
    "circle": (lambda: ([_circle()], [], []), 180),
    "ring": (lambda: ([_circle()], [_circle(0.58)], []), 180),
    "square": (lambda: ([_regular(4, 1.25, math.pi / 4)], [], []), 12),
    "triangle": (lambda: ([_regular(3, 1.1) + [0, 0.2]], [], []), 25),
    "diamond": (lambda: ([np.array([[0, -1], [0.6, 0], [0, 1], [-0.6, 0]])], [], []), 12),
    "pentagon": (lambda: ([_regular(5)], [], []), 180),
    "hexagon": (lambda: ([_regular(6)], [], []), 180),
    "star": (lambda: ([_star()], [], []), 180),
    "cross": (lambda: ([_bar(1, 0.2, math.pi / 4), _bar(1, 0.2, -math.pi / 4)], [], []), 12),
    "plus": (lambda: ([_bar(1, 0.22, 0), _bar(1, 0.22, math.pi / 2)], [], []), 12),
    "heart": (lambda: ([_heart()], [], []), 20),
    "arrow": (
        lambda: ([np.array([[-1, -0.2], [0.2, -0.2], [0.2, -0.6], [1, 0], [0.2, 0.6], [0.2, 0.2], [-1, 0.2]])], [], []),
        180,
    ),
    "crescent": (lambda: ([_circle()], [_circle(0.82, 0.42, -0.12)], []), 180),
    "bolt": (
        lambda: (
            [np.array([[0.2, -1], [-0.55, 0.15], [-0.05, 0.15], [-0.3, 1], [0.55, -0.2], [0.05, -0.2], [0.35, -1]])],
            [],
            [],
        ),
        15,
    ),
    "flower": (lambda: ([_flower()], [_circle(0.18)], []), 180),
    "sun": (lambda: ([_circle(0.48)], [], [(_bar(1, 0, a)[:2], 0.14) for a in np.arange(4) * math.pi / 4]), 180),
    "drop": (lambda: ([_drop()], [], []), 20),
    "cloud": (
        lambda: (
            [
                _circle(0.42, -0.5, 0.2),
                _circle(0.55, 0.05, -0.1),
                _circle(0.42, 0.55, 0.2),
                _bar(0.55, 0.3, 0) + [0, 0.32],
            ],
            [],
            [],
        ),
        10,
    ),
    "house": (
        lambda: (
            [np.array([[-0.75, 1], [-0.75, -0.1], [0, -1], [0.75, -0.1], [0.75, 1]])],
            [np.array([[-0.2, 1], [-0.2, 0.4], [0.2, 0.4], [0.2, 1]])],
            [],
        ),
        8,
    ),
    "wave": (lambda: ([], [], [(_wave(), 0.22)]), 25),
}
SHAPE_NAMES = list(SHAPES)


def draw_look(name: str, index: int) -> np.ndarray:
    """Look ``index`` of class ``name``: a (32, 32) float32 coverage mask in [0, 1]."""
    drawing, max_turn = SHAPES[name]
    rng = np.random.default_rng([_PARTITION_SEED, SHAPE_NAMES.index(name), index])
    turn = math.radians(rng.uniform(-max_turn, max_turn))
    squash = rng.uniform(0.72, 1.0, size=2)
    wobble, freq, phase = rng.uniform(0.0, 0.08), rng.normal(0, 2.0, size=(2, 2)), rng.uniform(0, 2 * math.pi, 2)
    paint, cut, strokes = drawing()
    outlined = len(paint) == 1 and not cut and name != "circle" and rng.random() < 0.4
    stroke = rng.uniform(0.12, 0.22) if outlined else 0.0
    c, s = math.cos(turn), math.sin(turn)

    def place(points: Polygon) -> list[tuple[float, float]]:
        p = np.asarray(points, dtype=np.float64) * squash
        p = p @ np.array([[c, s], [-s, c]])
        p = p + wobble * np.sin(p @ freq + phase)  # a smooth hand-drawn warp
        p = (p * 0.85 + 1) * (MASK_SIZE * _SUPERSAMPLE / 2)
        return [tuple(q) for q in p]

    side = MASK_SIZE * _SUPERSAMPLE
    img = Image.new("L", (side, side), 0)
    pen = ImageDraw.Draw(img)
    width = max(1, round(stroke * side / 2))
    for poly in paint:
        if stroke:
            pts = place(poly)
            pen.line(pts + pts[:1], fill=255, width=width, joint="curve")
        else:
            pen.polygon(place(poly), fill=255)
    for poly in cut:
        pen.polygon(place(poly), fill=0)
    for line, w in strokes:
        pen.line(place(line), fill=255, width=max(1, round(w * side / 2)), joint="curve")
    small = img.resize((MASK_SIZE, MASK_SIZE), Image.BOX)
    return np.asarray(small, dtype=np.float32) / 255.0


@lru_cache(maxsize=1)
def _partition() -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """Per class index, (pretraining looks, scene looks), in the fixed seeded order."""
    pretrain, scenes = {}, {}
    n_pre = int(round(LOOKS_PER_CLASS * PRETRAIN_FRACTION))
    for k, name in enumerate(SHAPE_NAMES):
        order = np.random.default_rng([_PARTITION_SEED, k]).permutation(LOOKS_PER_CLASS)
        looks = np.stack([draw_look(name, int(i)) for i in order])
        pretrain[k], scenes[k] = looks[:n_pre], looks[n_pre:]
    return pretrain, scenes


def pretraining_looks() -> ScanPool:
    """The looks reserved for the embedded CLIP's pretraining, by shape index."""
    return dict(_partition()[0])


def scene_looks() -> ScanPool:
    """The looks the scenes may use (never seen in pretraining), by shape index."""
    return dict(_partition()[1])
