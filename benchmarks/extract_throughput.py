"""Images per second of feature extraction: the model alone against the whole extract path.

All three encode the same N photo-sized JPEGs (digit scenes rendered at ``--photo-size``
and JPEG-encoded, as a COCO image would be read) with the same random-weight CLIP tower
in the same run, one plain view each:

- model only: the encoder on chunks already on the device (what extract's encoder sees:
  ``ENCODE_IMAGES`` images per call; on CUDA under fp16 autocast, and also in
  channels_last, to show where that layout helps);
- end to end: ``ssmll.encoding.extraction.encode_table`` as the extract stage runs it: DataLoader
  workers decode, transform and stack whole chunks (pinned memory on CUDA) while the
  encoder runs, and the features travel back while the next chunk is encoded. Printed as
  a share of model-only (the goal on a GPU: at least 0.90);
- naive (the baseline): per image, decode + transform + encode in the main process, fp32,
  batch of one.

Usage::

    python benchmarks/extract_throughput.py                       # ViT-B-16 at 224 px, cuda if available
    python benchmarks/extract_throughput.py --n 64 --workers 2 --device cpu --naive-n 16
"""

from __future__ import annotations

import io
import sys
import time
from pathlib import Path

import pyarrow as pa
import torch
import typer
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))  # this checkout's library

from ssmll.core.runtime import Runtime  # noqa: E402
from ssmll.data.images import open_rgb  # noqa: E402
from ssmll.data.scenes.digits import DigitScenesConfig, build  # noqa: E402
from ssmll.data.tables import make_table  # noqa: E402
from ssmll.encoding.extraction import ENCODE_IMAGES, encode_table  # noqa: E402
from ssmll.encoding.factory import create_encoder, plain_views  # noqa: E402
from ssmll.encoding.views import ViewMaker  # noqa: E402


def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def photos(n: int, size: int) -> pa.Table:
    """``n`` digit scenes as ``size``-pixel JPEGs (quality 90) in a prepared table."""
    scenes = build(DigitScenesConfig(n_train=n, n_test=1, image_size=size)).tables["train"]
    jpegs = []
    for data in scenes.column("image").to_pylist():
        buf = io.BytesIO()
        Image.open(io.BytesIO(data)).convert("RGB").save(buf, "JPEG", quality=90)
        jpegs.append(buf.getvalue())
    return make_table(scenes.column("image_id").to_pylist(), scenes.column("labels").to_pylist(), images=jpegs)


@torch.inference_mode()
def model_only(encoder: torch.nn.Module, n: int, image_size: int, device: str, channels_last: bool = False) -> float:
    """Seconds for the encoder alone to encode ``n`` images in chunks that are already on the device."""
    layout = torch.channels_last if channels_last else torch.contiguous_format
    x = torch.randn(ENCODE_IMAGES, 3, image_size, image_size, device=device).contiguous(memory_format=layout)
    model = encoder.to(memory_format=layout)
    cuda = torch.device(device).type == "cuda"
    with torch.autocast("cuda", dtype=torch.float16, enabled=cuda):
        model(x)  # warm-up
        _sync(device)
        start = time.perf_counter()
        for _ in range(max(1, n // ENCODE_IMAGES)):
            g, loc = model(x)
            g.half(), loc.half()
        _sync(device)
    encoder.to(memory_format=torch.contiguous_format)
    return (time.perf_counter() - start) * n / (max(1, n // ENCODE_IMAGES) * ENCODE_IMAGES)


def end_to_end(table: pa.Table, encoder: torch.nn.Module, views: ViewMaker, rt: Runtime) -> float:
    """Seconds for ``encode_table`` to deliver every image's features to the host."""
    start = time.perf_counter()
    for _ in encode_table(table, encoder, views, rt):
        pass
    _sync(rt.device)
    return time.perf_counter() - start


@torch.inference_mode()
def naive(table: pa.Table, encoder: torch.nn.Module, views: ViewMaker, device: str) -> float:
    """Seconds to decode, transform and encode every image on its own, fp32."""
    start = time.perf_counter()
    for image_id, data in zip(table.column("image_id").to_pylist(), table.column("image").to_pylist()):
        encoder(views(open_rgb(data=data), image_id).to(device))[0].cpu()
    _sync(device)
    return time.perf_counter() - start


def main(
    n: int = typer.Option(512, help="Images for model-only and end-to-end."),
    naive_n: int = typer.Option(64, help="Images for the naive baseline (slow)."),
    batch_size: int = typer.Option(128, help="End to end: images per decoding batch."),
    workers: int = typer.Option(8, help="End to end: DataLoader worker processes."),
    device: str = typer.Option("cuda" if torch.cuda.is_available() else "cpu", help="cpu, cuda, cuda:1 ..."),
    model: str = typer.Option("ViT-B-16", help="open_clip architecture (random weights)."),
    grid: int = typer.Option(7, help="Local embeddings grid, as extract.grid."),
    photo_size: int = typer.Option(480, help="Side of the JPEGs decoded (COCO images are about 640x480)."),
    threads: int = typer.Option(0, help="Torch CPU threads (0: torch's default, one per core)."),
) -> None:
    if threads:
        torch.set_num_threads(threads)
    table = photos(max(n, naive_n), photo_size)
    clip, encoder = create_encoder(model, "none", grid, device=device)
    size = clip.preprocess_cfg["size"]
    size = size if isinstance(size, int) else size[0]
    views = plain_views(clip)
    rt = Runtime(device, batch_size, workers, progress=False)
    end_to_end(table.slice(0, ENCODE_IMAGES), encoder, views, rt)  # warm-up: kernels, allocator, worker start

    print(
        f"{model} (random weights) at {size} px, grid {grid}, {photo_size} px JPEGs, device {device}, "
        f"torch threads {torch.get_num_threads()}"
    )
    cuda = torch.device(device).type == "cuda"
    precision = "fp16 autocast" if cuda else "fp32"
    base = n / model_only(encoder, n, size, device)
    print(f"model only ({precision}, chunks of {ENCODE_IMAGES} on the device):      {base:8.1f} images/s")
    if cuda:
        rate = n / model_only(encoder, n, size, device, channels_last=True)
        print(f"model only, channels_last:                             {rate:8.1f} images/s  ({rate / base:.2f}x)")
    rate = n / end_to_end(table.slice(0, n), encoder, views, rt)
    print(
        f"end to end (extract: {workers} workers, batch {batch_size}{', pinned' if cuda else ''}): "
        f"{rate:8.1f} images/s  ({rate / base:.2f} of model only)"
    )
    slow = naive_n / naive(table.slice(0, naive_n), encoder, views, device)
    print(
        f"naive (one image at a time, main process, fp32):       {slow:8.1f} images/s  "
        f"(end to end: {rate / slow:.1f}x naive)"
    )


if __name__ == "__main__":
    typer.run(main)
