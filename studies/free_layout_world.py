"""A world drawn outside the project's scene code, written as a manifest: the method judged off its home ground.

Sixteen of the objects vocabulary's classes (a seeded choice), their scene looks (never seen
by the embedded CLIP), pasted at random places and sizes (16-32 px of 64, overlaps allowed)
on coloured-noise or striped backgrounds, where the default scenes use a grid on gradients;
four hand-made contexts of four classes each (the scene's context quadruples its classes'
rates) over Zipf-like base rates; one to five labels an image. Writes PNGs, ``manifest.csv``
(path, labels, split) and ``classes.txt``, for ``data.source: manifest``
(docs/semi-supervised.md, "The worlds").

    python studies/free_layout_world.py --out /tmp/man/world
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import typer
from PIL.Image import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ssmll.data.scenes.scans import ScanPool, contrasting_colour, paste_scan, to_image  # noqa: E402
from ssmll.data.scenes.vocabulary import vocabulary  # noqa: E402

CLASSES, CONTEXTS, SIZE = 16, 4, 64


def background(rng: np.random.Generator) -> np.ndarray:
    """Coloured noise or two-colour stripes, float32 (H, W, 3) in 0..255."""
    if rng.integers(2) == 0:
        return np.clip(rng.uniform(0, 255, 3) + rng.normal(0, 30, (SIZE, SIZE, 3)), 0, 255).astype(np.float32)
    a, b = rng.uniform(0, 255, (2, 3))
    period = rng.integers(4, 12)
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    stripe = ((xx + yy * rng.integers(0, 2)) // period) % 2
    return np.where(stripe[..., None] == 0, a, b).astype(np.float32)


def draw_labels(rng: np.random.Generator, base: np.ndarray) -> list[int]:
    """One to five classes: each present at its base rate, quadrupled within the scene's context."""
    while True:
        context = np.arange(CLASSES).reshape(CONTEXTS, -1)[rng.integers(CONTEXTS)]
        rates = base.copy()
        rates[context] = np.minimum(1.0, 4 * rates[context])
        labels = np.flatnonzero(rng.random(CLASSES) < rates)
        if 1 <= len(labels) <= 5:
            return labels.tolist()


def render(rng: np.random.Generator, labels: list[int], looks: list[np.ndarray]) -> Image:
    canvas = background(rng)
    luminance = float(canvas.mean())
    for k in labels:
        look = looks[k][rng.integers(len(looks[k]))]
        side = int(rng.integers(16, 33))
        y0, x0 = (int(v) for v in rng.integers(0, SIZE - side + 1, 2))
        paste_scan(canvas, look, y0, x0, side, contrasting_colour(rng, luminance))
    return to_image(canvas)


def main(
    out: Path = typer.Option(..., help="Folder to write the images, manifest.csv and classes.txt into."),
    n_train: int = typer.Option(4000, help="Training images."),
    n_test: int = typer.Option(2000, help="Test images."),
    seed: int = typer.Option(7, help="Seeds the classes, the base rates and every scene."),
) -> None:
    """Write the free-layout world as a manifest."""
    rng = np.random.default_rng(seed)
    vocab = vocabulary("objects")
    chosen = [int(k) for k in rng.choice(len(vocab.names), size=CLASSES, replace=False)]
    pool: ScanPool = vocab.scenes()
    names, looks = [vocab.names[k] for k in chosen], [pool[k] for k in chosen]
    base = (0.5 / (1 + np.arange(CLASSES)) ** 1.1)[rng.permutation(CLASSES)]
    (out / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for split, n in (("train", n_train), ("test", n_test)):
        for i in range(n):
            labels = draw_labels(rng, base)
            path = f"img/{split}_{i:05d}.png"
            render(rng, labels, looks).save(out / path)
            rows.append((path, "|".join(names[k] for k in labels), split))
    with open(out / "manifest.csv", "w", newline="") as f:
        csv.writer(f).writerows([("path", "labels", "split"), *rows])
    (out / "classes.txt").write_text("\n".join(names) + "\n")
    y = np.array([[name in r[1].split("|") for name in names] for r in rows])
    typer.echo(f"{len(rows)} images, {y.sum(1).mean():.2f} labels an image; prevalence %:")
    typer.echo(", ".join(f"{n} {p:.1f}" for n, p in zip(names, 100 * y.mean(0))))


if __name__ == "__main__":
    typer.run(main)
