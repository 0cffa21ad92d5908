"""Images per second of feature extraction: one image at a time vs the library's batched path.

Both encode the same N digit scenes (one plain view each) with the same random-weight
CLIP model in the same run:

- naive: per image, decode + transform + encode in the main process, fp32, batch of one;
- library: ``ssmll.features.encode_table``: DataLoader workers decode and transform while
  the model encodes fixed-shape batches (on CUDA under fp16 autocast, as extract runs).

On CUDA the library path is also timed with autocast turned off, to separate batching from
half precision. Usage::

    python benchmarks/extract_throughput.py --n 256 --batch-size 64 --workers 2 --device cpu
"""

from __future__ import annotations

import time

import torch
import typer

from ssmll.clip import DenseImageEncoder, load_clip
from ssmll.datasets.digits import DigitScenesConfig, build
from ssmll.features import Runtime, encode_table
from ssmll.images import open_rgb
from ssmll.views import ViewConfig, ViewMaker


class _Fp32(torch.nn.Module):
    """The encoder with autocast switched off inside it (an outer autocast then has no effect)."""

    def __init__(self, encoder: DenseImageEncoder):
        super().__init__()
        self.encoder = encoder

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        with torch.autocast("cuda", enabled=False):
            return self.encoder(x.float())


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


@torch.inference_mode()
def naive(table, encoder: torch.nn.Module, views: ViewMaker, device: str) -> float:
    """Seconds to decode, transform and encode every image on its own, fp32."""
    start = time.perf_counter()
    for image_id, data in zip(table.column("image_id").to_pylist(), table.column("image").to_pylist()):
        x = views(open_rgb(data=data), image_id)
        encoder(x.to(device))[0].cpu()
    _sync(device)
    return time.perf_counter() - start


def library(table, encoder: torch.nn.Module, views: ViewMaker, rt: Runtime) -> float:
    """Seconds for ``encode_table`` to yield every image's features."""
    start = time.perf_counter()
    for _ in encode_table(table, encoder, views, rt):
        pass
    _sync(rt.device)
    return time.perf_counter() - start


def main(
    n: int = typer.Option(256, help="Number of digit scenes."),
    batch_size: int = typer.Option(64, help="Library path: images per decoding batch."),
    workers: int = typer.Option(2, help="Library path: DataLoader worker processes."),
    device: str = typer.Option("cuda" if torch.cuda.is_available() else "cpu", help="cpu, cuda, cuda:1 ..."),
    model: str = typer.Option("ViT-S-32", help="open_clip architecture (random weights)."),
    grid: int = typer.Option(4, help="Local embeddings grid, as extract.grid."),
    threads: int = typer.Option(0, help="Torch CPU threads (0: torch's default, one per core)."),
) -> None:
    if threads:
        torch.set_num_threads(threads)
    table = build(DigitScenesConfig(n_train=n, n_test=1)).tables["train"]
    clip = load_clip(model, "none", seed=0, device=device)
    encoder = DenseImageEncoder(clip.model.visual, grid).eval()
    views = ViewMaker(clip.preprocess_cfg, ViewConfig(views=1))
    rt = Runtime(device, batch_size, workers, progress=False)
    library(table.slice(0, min(n, 8)), encoder, views, rt)  # warm-up: kernels, allocator, worker start

    print(f"{n} digit scenes, {model} (random weights), grid {grid}, device {device}, torch threads {torch.get_num_threads()}")
    base = n / naive(table, encoder, views, device)
    print(f"naive   (one image at a time, main process, fp32): {base:8.1f} images/s")
    runs = {"library (batched, workers)": encoder}
    if device.startswith("cuda"):
        runs = {"library (batched, workers, fp32)": _Fp32(encoder), "library (batched, workers, fp16 autocast)": encoder}
    for name, enc in runs.items():
        rate = n / library(table, enc, views, rt)
        print(f"{name}, batch {batch_size}, {workers} workers: {rate:8.1f} images/s  ({rate / base:.2f}x naive)")


if __name__ == "__main__":
    typer.run(main)
