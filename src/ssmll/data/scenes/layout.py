"""The scene layout the embedded sources share: looks pasted into the cells of a grid on a gradient.

One home, so that the digit scenes and the object scenes draw the same way and a change of
the drawing shows in both; the order of the random draws is part of the digit scenes' bytes.
"""

from __future__ import annotations

import io
from collections.abc import Callable

import numpy as np
import pyarrow as pa
from PIL import Image

from ssmll.data.scenes.scans import ScanPool, contrasting_colour, gradient, paste_scan, to_image
from ssmll.data.tables import make_table

_SPLIT_CODE = {"train": 0, "test": 1}

#: One scene of a split from its own random generator: the image and its class indices.
RenderScene = Callable[[np.random.Generator, str], tuple[Image.Image, list[int]]]


def scene_tables(sizes: dict[str, int], seed: int, render: RenderScene) -> dict[str, pa.Table]:
    """Per split, ``sizes[split]`` scenes as a prepared table (PNG bytes embedded); scene i of a split
    is a pure function of (seed, split, i), so a scene does not depend on how many others are drawn."""
    tables = {}
    for split, n in sizes.items():
        ids, labels, images = [], [], []
        for i in range(n):
            img, present = render(np.random.default_rng([seed, _SPLIT_CODE[split], i]), split)
            ids.append(f"{split}_{i:06d}")
            labels.append(present)
            images.append(png_bytes(img))
        tables[split] = make_table(ids, labels, images=images)
    return tables


def grid_scene(rng: np.random.Generator, labels: list[int], looks: ScanPool, size: int, grid: int) -> Image.Image:
    """A ``size`` px gradient with one random look of each label in its own random cell of a ``grid`` x ``grid``
    layout, at a random scale and offset within the cell, in a colour that stands out from the background."""
    canvas = gradient(rng, size)
    cell = size // grid
    cells = rng.choice(grid * grid, size=len(labels), replace=False)
    luminance = canvas.mean()
    for k, c in zip(labels, cells):
        look = looks[k][rng.integers(len(looks[k]))]
        side = int(cell * rng.uniform(0.55, 0.95))
        y0 = (c // grid) * cell + int(rng.integers(0, cell - side + 1))
        x0 = (c % grid) * cell + int(rng.integers(0, cell - side + 1))
        paste_scan(canvas, look, y0, x0, side, contrasting_colour(rng, luminance))
    return to_image(canvas)


def png_bytes(img: Image.Image) -> bytes:
    """``img`` as PNG with fixed encoder settings, so the same pixels give the same bytes."""
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=False, compress_level=6)
    return buf.getvalue()
