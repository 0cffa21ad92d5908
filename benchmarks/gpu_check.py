"""Every GPU path checked by one command that fits a short GPU window; on a machine without CUDA, the same at tiny size.

GPU time comes in short windows, so what must hold on a GPU is one prepared command. With
CUDA it runs, at full size (sized for 8 minutes on one H200; docs/gpu-check.md has a measured run):

- CUDA tests: the tests that skip without CUDA (``reason="needs CUDA"``), under pytest;
- extraction: ViT-B-16 (random weights) on 640x480 synthetic JPEG photos, one plain view,
  end to end as extract runs it (``encode_missing``: decoding and views in DataLoader workers,
  the encoder under fp16 autocast, shards written) against the encoder alone on chunks of the
  same shape already on the GPU; the decoding workers alone (their ceiling); the largest
  difference of autocast features from fp32 ones;
- training at COCO-like shape (``scale.measure``: N = 32k synthetic images, D = 512, 7x7 + 1
  tokens, 3 views, 80 classes, the real train stage): seconds per semi-supervised epoch, peak
  GPU memory against the fp16 feature bytes, and the same epoch on the CPU at small N, per image;
- the default pipeline: dvc.yaml's stage commands in order (no DVC needed) in a fresh
  directory with the default params.yaml; every variant's mAP against the committed CPU
  baseline (``metrics/eval/<variant>.json``, or the older ``metrics/eval.json``);
- torchrun: that pipeline's extract again under ``torchrun --nproc_per_node=1`` (NCCL), its
  shards compared byte for byte with the plain run's;
- ``ssmll predict`` with that pipeline's model on exported test images, on the GPU against the CPU.

It prints one table (what, figure, target, held) and writes it as JSON to the path given,
after every check, so that a run cut short still leaves what it measured. Without CUDA
every check runs what it can at tiny size (the tiny pipeline, torchrun over gloo, predict on
the CPU), each GPU target is marked skipped with the reason, and the exit status is 0 unless
a check that did run failed. docs/gpu-check.md says how to run it on a GPU machine.

Usage::

    python benchmarks/gpu_check.py gpu-check.json                 # full size with CUDA, tiny without
    python benchmarks/gpu_check.py out.json --tiny --workdir /tmp # tiny sizes anywhere
"""

from __future__ import annotations

import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import torch
import typer
import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]  # this checkout's benchmarks and library, installed or not

from benchmarks import extract_throughput, scale  # noqa: E402
from ssmll.core.runtime import Runtime  # noqa: E402
from ssmll.data.images import open_rgb  # noqa: E402
from ssmll.data.tables import make_table  # noqa: E402
from ssmll.encoding.extraction import ENCODE_IMAGES  # noqa: E402
from ssmll.encoding.factory import create_encoder, plain_views  # noqa: E402
from ssmll.encoding.record import ExtractConfig  # noqa: E402
from ssmll.encoding.staging import Group, Staging, encode_missing  # noqa: E402

#: Subprocesses run this checkout's stages and library (``stages`` puts ``src`` first itself).
ENV = {
    **os.environ,
    "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH")])),
}


@dataclass
class Row:
    """One line of the summary: ``held`` None when there is no target here (skipped, or a figure only)."""

    what: str
    figure: str
    target: str = ""
    held: bool | None = None
    note: str = ""


@dataclass(frozen=True)
class Sizes:
    photos: int  # JPEGs encoded end to end and model-only
    unique_photos: int  # distinct images among them (making one costs more than decoding it)
    model: str  # open_clip architecture, random weights
    grid: int
    train_n: int  # training images on the GPU (0: no GPU training)
    cpu_n: int  # training images on the CPU
    predict_images: int
    pipeline: dict = field(default_factory=dict)  # dotted overrides of params.yaml (empty: the default run)
    crops: int = ExtractConfig.crops  # extract's default: crops x crops zoomed crops' embeddings (0: the patch grid)


FULL = Sizes(photos=6144, unique_photos=256, model="ViT-B-16", grid=7, train_n=32_000, cpu_n=1_000, predict_images=256)
#: Seconds on 2 CPU cores: the embedded CLIP's tower, the tests' tiny pipeline.
TINY = Sizes(
    photos=64,
    unique_photos=8,
    model="ssmll-digits-ViT-8",
    grid=2,
    train_n=0,
    cpu_n=128,
    predict_images=8,
    pipeline={
        "data.objects.n_train": 120,
        "data.objects.n_test": 60,
        "extract.views": 2,
        "extract.grid": 2,
        "train.epochs": 3,
        "train.warmup_epochs": 1,
    },
)


@dataclass
class Context:
    cuda: bool
    sizes: Sizes
    workdir: Path
    workers: int  # decoding workers for the extraction check

    @property
    def device(self) -> str:
        return "cuda" if self.cuda else "cpu"

    @property
    def pipeline_dir(self) -> Path:
        return self.workdir / "pipeline"

    def gpu_target_skipped(self, what: str) -> str:
        """Why a full-size GPU target is not judged here ("" when it is)."""
        if not self.cuda:
            return _no_cuda(what)
        return "" if self.sizes == FULL else f"skipped: tiny sizes ({what})"


def _no_cuda(what: str) -> str:
    return f"skipped: no CUDA here ({what})"


def run(cmd: list[str], cwd: Path, timeout: int = 600) -> str:
    """Run ``cmd`` in ``cwd``; its stdout and stderr, or an error with both when it fails."""
    proc = subprocess.run(cmd, cwd=cwd, env=ENV, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f"{shlex.join(cmd)} exited {proc.returncode}:\n{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}")
    return proc.stdout + proc.stderr


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


# --- CUDA tests ---------------------------------------------------------------------------------

CUDA_TEST = re.compile(
    r'@pytest\.mark\.skipif\(not torch\.cuda\.is_available\(\), reason="needs CUDA"\)\s*\n(?:@.*\n)*def (\w+)'
)


def cuda_test_ids() -> list[str]:
    """pytest ids of the tests that skip without CUDA."""
    return [
        f"tests/{f.name}::{name}"
        for f in sorted((ROOT / "tests").glob("test_*.py"))
        for name in CUDA_TEST.findall(f.read_text())
    ]


def check_cuda_tests(ctx: Context) -> list[Row]:
    ids = cuda_test_ids()
    what = "CUDA-marked tests pass"
    if not ctx.cuda:
        return [Row(what, f"{len(ids)} found", "all pass", None, _no_cuda("they skip"))]
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *ids],
        cwd=ROOT,
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
    )
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", proc.stdout)) else 0
    note = "" if proc.returncode == 0 else proc.stdout[-1500:]
    return [Row(what, f"{passed} of {len(ids)} passed", "all pass", proc.returncode == 0 and passed == len(ids), note)]


# --- extraction ---------------------------------------------------------------------------------


def coco_like_photos(n: int, unique: int, seed: int = 0) -> pa.Table:
    """``n`` 640x480 JPEGs (quality 90) of smooth colour fields with sensor-like noise, about 100 KB each as COCO's are.

    Digit scenes compress to a tenth of a photo's bytes and decode faster; ``unique`` images
    are made and repeated, since making one costs more than decoding it.
    """
    rng = np.random.default_rng(seed)
    made = []
    for _ in range(unique):
        colours = Image.fromarray(rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)).resize((640, 480), Image.BICUBIC)
        pixels = np.asarray(colours, np.int16) + rng.normal(0, 10, (480, 640, 3)).astype(np.int16)
        buf = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buf, "JPEG", quality=90)
        made.append(buf.getvalue())
    ids = [f"photo_{i:06d}" for i in range(n)]
    return make_table(ids, [[0]] * n, images=[made[i % unique] for i in range(n)])


def extract_seconds(table: pa.Table, encoder: torch.nn.Module, views, rt: Runtime, out: Path) -> float:
    """Seconds for extract's own path over ``table``: ``encode_missing`` with its shards written."""
    staging = Staging(out, "gpu-check")
    start = time.perf_counter()
    encode_missing({"test": table}, {"test": views}, encoder, rt, staging, Group())
    _sync()
    seconds = time.perf_counter() - start
    staging.discard()
    return seconds


class _NoModel(torch.nn.Module):
    """Stands in for the encoder (zeros of its output shape), so that the decoding workers alone are timed."""

    def __init__(self, dim: int, tokens: int):
        super().__init__()
        self.visual, self.dim, self.tokens = None, dim, tokens

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x.new_zeros(len(x), self.dim), x.new_zeros(len(x), self.tokens, self.dim)


@torch.inference_mode()
def autocast_gap(encoder: torch.nn.Module, table: pa.Table, views, device: str) -> float:
    """Largest |autocast - fp32| over the features (unit vectors) of one chunk of real views."""
    chunk = table.slice(0, ENCODE_IMAGES)
    images = [views(open_rgb(data=d), i) for i, d in zip(chunk["image_id"].to_pylist(), chunk["image"].to_pylist())]
    x = torch.cat(images).to(device)
    with torch.autocast("cuda", dtype=torch.float16):
        half = encoder(x)
    full = encoder(x)
    return max(float((a.float() - b).abs().max()) for a, b in zip(half, full))


def check_extraction(ctx: Context) -> list[Row]:
    s = ctx.sizes
    table = coco_like_photos(s.photos, s.unique_photos)
    clip, encoder = create_encoder(s.model, "none", s.grid, device=ctx.device, crops=s.crops)
    views = plain_views(clip)
    size = clip.preprocess_cfg["size"]
    size = size if isinstance(size, int) else size[0]
    rt = Runtime(ctx.device, workers=ctx.workers, progress=False)  # extract's batch size
    out = ctx.workdir / "extract" / "features"
    extract_seconds(table.slice(0, 4 * ENCODE_IMAGES), encoder, views, rt, out)  # warm-up: kernels, allocator
    end_to_end = s.photos / extract_seconds(table, encoder, views, rt, out)
    model_only = s.photos / extract_throughput.model_only(encoder, s.photos, size, ctx.device)
    no_model = _NoModel(clip.model.visual.output_dim, s.crops**2 or s.grid**2)
    decoding = s.photos / extract_seconds(table, no_model, views, replace(rt, device="cpu"), out)
    precision = "fp16 autocast" if ctx.cuda else "fp32"
    local = f"{s.crops} x {s.crops} crops" if s.crops else f"grid {s.grid}"
    shape = f"{s.model} random weights, {size} px, {local}, {s.photos} 640x480 JPEGs, {ctx.workers} workers"
    ratio = end_to_end / model_only
    rows = [
        Row("extraction: model only (img/s)", f"{model_only:.0f}", note=f"{shape}; {precision}, chunks on the device"),
        Row("extraction: decoding workers alone (img/s)", f"{decoding:.0f}", note="decode + view + stack, no model"),
        Row(
            "extraction: end to end / model only",
            f"{ratio:.2f} ({end_to_end:.0f} img/s)",
            ">= 0.90",
            None if (why := ctx.gpu_target_skipped("the target is ViT-B-16's on a GPU")) else ratio >= 0.90,
            why,
        ),
    ]
    if ctx.cuda:
        gap = autocast_gap(encoder, table, views, ctx.device)
        rows.append(
            Row("extraction: max |autocast - fp32| feature", f"{gap:.2e}", "<= 1e-2 (unit vectors)", gap <= 1e-2)
        )
    else:
        rows.append(
            Row(
                "extraction: max |autocast - fp32| feature",
                "-",
                "<= 1e-2 (unit vectors)",
                None,
                _no_cuda("no autocast on CPU"),
            )
        )
    return rows


# --- training -----------------------------------------------------------------------------------


def check_training(ctx: Context) -> list[Row]:
    s = ctx.sizes
    cpu = scale.measure(s.cpu_n, 1, ctx.workdir, "cpu")
    why = ctx.gpu_target_skipped("the GPU epoch")
    gpu = None if why else scale.measure(s.train_n, 1, ctx.workdir, "cuda")
    return training_rows(cpu, gpu, why)


def training_rows(cpu: scale.Measure, gpu: scale.Measure | None, why: str = "") -> list[Row]:
    """The training rows from the CPU's and the GPU's measurements (no GPU measure: its rows skipped, ``why``)."""
    cpu_row = Row(
        f"training: semi epoch on CPU, N = {cpu.n}",
        f"{cpu.semi_s:.2f} s ({cpu.semi_s / cpu.n * 1e3:.2f} ms/img)",
        note=f"{os.cpu_count()} cores",
    )
    shape = "D 512, 7x7+1 tokens, 3 views, 80 classes"
    if gpu is None:
        return [
            Row(f"training: semi epoch on GPU ({shape})", "-", "<= 10 s at N = 32k", None, why),
            Row("training: peak GPU memory / fp16 features", "-", "<= 1.5x + 1 GiB", None, why),
            cpu_row,
            Row("training: CPU / GPU time per image", "-", ">= 5x", None, why),
        ]
    budget = 1.5 * gpu.fp16_bytes + 2**30
    speedup = (cpu.semi_s / cpu.n) / (gpu.semi_s / gpu.n)
    return [
        Row(
            f"training: semi epoch on GPU, N = {gpu.n} ({shape})",
            f"{gpu.semi_s:.2f} s",
            "<= 10 s",
            gpu.semi_s <= 10,
            f"features loaded in {gpu.load_s:.1f} s",
        ),
        Row(
            "training: peak GPU memory / fp16 features",
            f"{gpu.peak_gpu / 2**30:.2f} / {gpu.fp16_bytes / 2**30:.2f} GiB = {gpu.peak_gpu / gpu.fp16_bytes:.2f}x",
            "<= 1.5x + 1 GiB",
            0 < gpu.peak_gpu <= budget,
            f"host peak RSS {gpu.peak_rss / 2**30:.2f} GiB",
        ),
        cpu_row,
        Row("training: CPU / GPU time per image", f"{speedup:.1f}x", ">= 5x", speedup >= 5),
    ]


# --- the default pipeline, torchrun, predict ------------------------------------------------------


def _set(params: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    node = params
    for key in parents:
        node = node[key]
    node[leaf] = value


def eval_maps(root: Path) -> dict[str, float]:
    """Each variant's test mAP under ``root/metrics``: one file per variant, or the older single eval.json."""
    per_variant = root / "metrics" / "eval"
    if per_variant.is_dir():
        found = {f.stem: json.loads(f.read_text()) for f in sorted(per_variant.glob("*.json"))}
    else:
        found = json.loads((root / "metrics" / "eval.json").read_text())
    return {k: float(v["mAP"]) for k, v in found.items() if isinstance(v, dict) and "mAP" in v}


def check_pipeline(ctx: Context) -> list[Row]:
    root = ctx.pipeline_dir
    root.mkdir(parents=True)
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    for dotted, value in ctx.sizes.pipeline.items():
        _set(params, dotted, value)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    (root / "models").symlink_to(ROOT / "models")  # the embedded CLIP, at its relative path
    times = []
    for name, stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        cmd = shlex.split(stage["cmd"])
        start = time.perf_counter()
        run([sys.executable if cmd[0] == "python" else cmd[0], *cmd[1:]], root)
        times.append(f"{name} {time.perf_counter() - start:.0f}")
    got, baseline = eval_maps(root), eval_maps(ROOT)
    common = sorted(set(got) & set(baseline))
    worst = max(common, key=lambda v: abs(got[v] - baseline[v]))
    gap = abs(got[worst] - baseline[worst])
    where = "GPU" if ctx.cuda else "CPU"
    return [
        Row(
            f"default pipeline on {where}: max |mAP - CPU baseline| over {len(common)} variants",
            f"{gap:.2f} ({worst} {got[worst]:.2f} vs {baseline[worst]:.2f})",
            "<= 0.5",
            gap <= 0.5 and len(common) == len(baseline) if not ctx.sizes.pipeline else None,
            f"stage seconds: {', '.join(times)}"
            + ("; skipped: tiny params, the baseline is the default run's" if ctx.sizes.pipeline else ""),
        )
    ]


def shard_bytes(features: Path) -> dict[str, bytes]:
    return {str(p.relative_to(features)): p.read_bytes() for p in sorted(features.glob("*/part-*.parquet"))}


def check_torchrun(ctx: Context) -> list[Row]:
    root = ctx.pipeline_dir
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1"]
    out = run([*torchrun, "-m", "stages.extract", "--out", "data/features_torchrun", "--no-progress"], root)
    backend = m.group(1) if (m := re.search(r"\((\w+)\) x 1 processes", out)) else "none"
    plain, launched = shard_bytes(root / "data" / "features"), shard_bytes(root / "data" / "features_torchrun")
    same = bool(plain) and plain == launched
    expected = "nccl" if ctx.cuda else "gloo"
    return [
        Row(
            f"torchrun, 1 process ({backend}): shards = a plain run's",
            f"{sum(plain.get(k) == v for k, v in launched.items())} of {len(plain)} identical",
            f"all, over {expected}",
            same and backend == expected,
        )
    ]


def predict_scores(root: Path, images: Path, device: str) -> pd.DataFrame:
    out = root / f"predictions_{device}.parquet"
    model = root / "data" / "models" / "method.pt"
    cli = [sys.executable, "-m", "ssmll.serving.cli"]
    run([*cli, "predict", str(model), str(images), "-o", str(out), "--device", device, "--no-progress"], root)
    table = pd.read_parquet(out).set_index("path").sort_index()
    return table[[c for c in table.columns if c.startswith("score_")]]


def check_predict(ctx: Context) -> list[Row]:
    root = ctx.pipeline_dir
    images = root / "predict_images"
    run(
        [
            sys.executable,
            "-m",
            "ssmll.serving.cli",
            "export-images",
            str(images),
            "--limit",
            str(ctx.sizes.predict_images),
        ],
        root,
    )
    cpu = predict_scores(root, images, "cpu")
    what = "ssmll predict: max |score GPU - CPU|"
    if not ctx.cuda:
        return [Row(what, f"- ({len(cpu)} images on CPU)", "<= 1e-3", None, _no_cuda("predicted on the CPU only"))]
    gap = float((predict_scores(root, images, "cuda") - cpu).abs().max().max())
    return [Row(what, f"{gap:.1e} over {len(cpu)} images x {cpu.shape[1]} classes", "<= 1e-3", gap <= 1e-3)]


# --- the command --------------------------------------------------------------------------------

CHECKS: list[tuple[str, Callable[[Context], list[Row]]]] = [
    ("CUDA tests", check_cuda_tests),
    ("extraction", check_extraction),
    ("default pipeline", check_pipeline),
    ("torchrun", check_torchrun),
    ("predict", check_predict),
    ("training", check_training),
]


def table_text(rows: list[Row]) -> str:
    def held(r: Row) -> str:
        return "-" if r.held is None and not r.target else {True: "yes", False: "NO", None: "skipped"}[r.held]

    cells = [("what", "figure", "target", "held")] + [(r.what, r.figure, r.target, held(r)) for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(4)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(cell, widths)).rstrip() for cell in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"- {r.what}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + ([""] + notes if notes else []))


def main(
    out: Path = typer.Argument(..., help="Where to write the summary as JSON."),
    tiny: bool = typer.Option(False, help="Tiny sizes even with CUDA (without CUDA they always are)."),
    workdir: Path = typer.Option(
        Path(tempfile.gettempdir()), help="Where the temporary data goes (made if missing; removed after)."
    ),
    workers: int = typer.Option(0, min=0, help="Decoding workers for the extraction check (0: all cores but 2)."),
) -> None:
    cuda = torch.cuda.is_available()
    sizes = FULL if cuda and not tiny else TINY
    workdir.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="ssmll-gpu-check-", dir=workdir))
    ctx = Context(cuda, sizes, scratch, workers or max(1, (os.cpu_count() or 1) - 2))
    device = torch.cuda.get_device_name() if cuda else "no CUDA"
    summary = {"device": device, "torch": torch.__version__, "sizes": asdict(sizes), "rows": [], "seconds": {}}
    typer.echo(
        f"GPU check on {device}, {os.cpu_count()} CPU cores, torch {torch.__version__},"
        f" {'tiny' if sizes is TINY else 'full'} sizes",
        err=True,
    )
    rows: list[Row] = []
    start = time.perf_counter()
    try:
        for name, check in CHECKS:
            began = time.perf_counter()
            try:
                got = check(ctx)
            except Exception as e:  # one broken check must not hide the others' figures
                got = [Row(name, "error", "runs", False, f"{type(e).__name__}: {e}")]
            rows += got
            summary["seconds"][name] = round(time.perf_counter() - began, 1)
            summary["rows"] = [asdict(r) for r in rows]
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(summary, indent=2) + "\n")
            typer.echo(f"{name}: {summary['seconds'][name]:.0f} s", err=True)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    summary["seconds"]["total"] = round(time.perf_counter() - start, 1)
    out.write_text(json.dumps(summary, indent=2) + "\n")
    typer.echo(table_text(rows))
    typer.echo(
        f"\n{sum(r.held is True for r in rows)} held, {sum(r.held is False for r in rows)} did not, "
        f"{sum(r.held is None and bool(r.target) for r in rows)} skipped; {summary['seconds']['total']:.0f} s; {out}"
    )
    raise typer.Exit(1 if any(r.held is False for r in rows) else 0)


if __name__ == "__main__":
    typer.run(main)
