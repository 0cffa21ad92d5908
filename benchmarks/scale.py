"""Memory and time of the train stage as the dataset grows, on synthetic features.

For each size N it writes, in a temporary directory, what the stages before train would:
prepared tables of N training and N/4 test images with 80 classes, their features in
extract's exact on-disk format (fp16 shards; D=512, 7x7 local grid plus the global
token, 3 views for train, 1 for test; random unit vectors), then runs the real split and
contexts stages and the real train stage (``python -m stages.train``: semi-supervised
epochs only, no labeled-only warm-up, whose time would tell nothing more; params.yaml's
settings otherwise) as subprocesses, and prints per N:

- load s: the train stage reading the features (its own report);
- fp16 GB: the feature bytes it holds; peak RSS / fp16: its peak resident memory
  (``wait4``) over those bytes; (RSS-1GB) / fp16: the same less the 1 GB allowed for the
  interpreter, torch, labels and model (the target: at most 1.5);
- semi epoch s: the mean over ``--epochs`` semi-supervised epochs (the teacher scoring
  the unlabeled part, then the student's steps), after a first one that is not counted
  (its time holds one-off costs: kernels loaded, pages first touched); s / 1k images, and
  that cost as a ratio against the smallest N measured in the same run (1.00 everywhere:
  time proportional to N; below 1: a fixed cost per epoch spread over more images).

It closes with a projection to COCO 2014 (82,081 train / 40,137 test images) and
NUS-WIDE (about 150,000 / 100,000) from a linear fit of the measurements. ``--device
cuda`` runs the same on a GPU (peak RSS is then host memory; the features live on the GPU;
``Measure.peak_gpu`` holds the GPU's peak, which ``gpu_check.py`` reports).

Usage::

    python benchmarks/scale.py                       # N = 4k, 16k, 32k (writes ~5 GB at 32k, removed after)
    python benchmarks/scale.py --sizes 2000,4000 --epochs 3 --workdir /tmp --device cuda
"""

from __future__ import annotations

import multiprocessing
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from ssmll.data.tables import PreparedDataset, make_table, write_prepared  # noqa: E402
from ssmll.encoding.record import EncoderSpec, write_encoding  # noqa: E402
from ssmll.encoding.store import SHARD_IMAGES, shard_name, shard_ranges, write_shard  # noqa: E402

PEAK_GPU = "peak GPU memory:"  # the line benchmarks/cuda_peak.py prints

DIM, GRID, VIEWS, CLASSES, GROUPS = 512, 7, 3, 80, 8
DATASETS = {"COCO 2014": (82_081, 40_137), "NUS-WIDE": (150_000, 100_000)}


@dataclass
class Measure:
    n: int
    load_s: float
    fp16_bytes: int
    peak_rss: int
    semi_s: float
    peak_gpu: int = 0  # PyTorch's peak reserved bytes on the GPU (0 on CPU)

    @property
    def per_1k(self) -> float:
        return self.semi_s / (self.n / 1000)


def fp16_bytes(n_train: int, n_test: int) -> int:
    """Bytes of the features the train stage holds: every view of train, view 0 of test."""
    per_view = (GRID * GRID + 1) * DIM * 2
    return (n_train * VIEWS + n_test) * per_view


def write_inputs(root: Path, n_train: int, n_test: int, semi_epochs: int, seed: int = 0) -> None:
    """Prepared tables, features and params.yaml under ``root``, laid out as the pipeline's data/."""
    rng = np.random.default_rng(seed)
    classes = [f"class{i:02d}" for i in range(CLASSES)]
    tables = {}
    for split, n in (("train", n_train), ("test", n_test)):
        ids = [f"{split}_{i:07d}" for i in range(n)]
        tables[split] = make_table(ids, _labels(rng, n))
    write_prepared(PreparedDataset(classes, classes, tables), root / "data" / "prepared")
    features = root / "data" / "features"
    shards = []
    for split_index, (split, views) in enumerate((("train", VIEWS), ("test", 1))):
        (features / split).mkdir(parents=True)
        ids = tables[split].column("image_id").to_pylist()
        for index, rows in enumerate(shard_ranges(len(ids))):
            path = features / split / shard_name(index)
            shards.append((path, ids[rows.start : rows.stop], views, (seed, split_index, index)))
    # Shards are independent (each seeded on its own): one process per core writes them, as many
    # times faster (written in turn, N = 32k took 140 s of a 16-core GPU machine's time).
    with ProcessPoolExecutor(os.cpu_count(), mp_context=multiprocessing.get_context("spawn")) as pool:
        list(pool.map(_write_random_shard, *zip(*shards)))
    spec = EncoderSpec(
        model="synthetic",
        pretrained="none",
        pretrained_sha256="",
        seed=seed,
        open_clip_version="",
        preprocess={},
        local_tokens="random unit vectors",
        crops=0,  # a patch grid of GRID x GRID: a real CLIP at extract.crops 0, the most tokens a run holds
        crop_size=0.5,
        grid=GRID,
        dim=DIM,
        templates=("{}",),
        views=VIEWS,
    )
    write_encoding(features, spec, classes, classes, _unit(rng, (CLASSES, DIM)))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["train"].update(epochs=1 + semi_epochs, warmup_epochs=0)
    (root / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))


def _labels(rng: np.random.Generator, n: int) -> list[list[int]]:
    """1 to 4 labels per image, mostly from one of 8 groups of 10 classes (contexts to find)."""
    per_group = CLASSES // GROUPS
    out = []
    for group, k in zip(rng.integers(0, GROUPS, n), rng.integers(1, 5, n)):
        own = group * per_group + rng.integers(0, per_group, k)
        out.append(np.where(rng.random(k) < 0.9, own, rng.integers(0, CLASSES, k)).tolist())
    return out


def _write_random_shard(path: Path, ids: list[str], views: int, seed: tuple[int, ...]) -> None:
    """One shard of random unit vectors for ``ids``, ``views`` views each."""
    rng = np.random.default_rng(seed)
    write_shard(path, ids, _unit(rng, (len(ids), views, DIM)), _unit(rng, (len(ids), views, GRID * GRID, DIM)))


def _unit(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    x = rng.standard_normal(shape, dtype=np.float32)
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return x.astype(np.float16)


def run_stage(root: Path, *args: str) -> tuple[str, int]:
    """Run ``python -m stages.<args>`` in ``root``; its stderr and peak RSS in bytes."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen([sys.executable, "-m", *args], cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        err.seek(0)
        text = err.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({proc.returncode}):\n{text}")
    return text, usage.ru_maxrss * 1024  # Linux reports kilobytes


def measure(n: int, semi_epochs: int, workdir: Path, device: str) -> Measure:
    root = Path(tempfile.mkdtemp(prefix=f"ssmll-scale-{n}-", dir=workdir))
    try:
        start = time.perf_counter()
        # In a process of its own: a child's peak RSS counts its parent's at the fork, so this
        # process stays small (the features are hundreds of MB per shard while written).
        writer = multiprocessing.get_context("spawn").Process(target=write_inputs, args=(root, n, n // 4, semi_epochs))
        writer.start()
        writer.join()
        if writer.exitcode:
            raise SystemExit(f"writing the synthetic inputs failed ({writer.exitcode})")
        typer.echo(f"N={n}: wrote the synthetic inputs in {time.perf_counter() - start:.0f} s", err=True)
        run_stage(root, "stages.split")
        run_stage(root, "stages.contexts")
        device_args = ("--device", device) if device else ()
        # under benchmarks/cuda_peak.py, which prints the stage's peak GPU memory at exit
        log, rss = run_stage(root, "benchmarks.cuda_peak", "stages.train", "--variant", "method", *device_args)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    load = float(re.search(r"loaded features of .* in ([\d.]+) s", log).group(1))
    semi = [float(s) for s in re.findall(r"^epoch +\d+ \[semi\] .* ([\d.]+) s$", log, re.M)][1:]
    gpu = re.search(rf"^{PEAK_GPU} (\d+) bytes reserved", log, re.M)
    return Measure(n, load, fp16_bytes(n, n // 4), rss, float(np.mean(semi)), int(gpu.group(1)) if gpu else 0)


def main(
    sizes: str = typer.Option("4000,16000,32000", help="Training images per run, comma-separated (test: a quarter)."),
    epochs: int = typer.Option(
        1, min=1, help="Semi-supervised epochs timed per run (their mean is reported), after one that is not."
    ),
    workdir: Path = typer.Option(
        Path(tempfile.gettempdir()), help="Where the synthetic data is written (removed after)."
    ),
    device: str = typer.Option("", help="--device for the train stage (default: the stage's own, cuda if available)."),
) -> None:
    ns = sorted(int(s) for s in sizes.split(","))
    typer.echo(f"train stage on synthetic features: D={DIM}, {GRID}x{GRID}+1 tokens, {VIEWS} views, {CLASSES} classes,")
    typer.echo(
        f"shards of {SHARD_IMAGES} images, test = N/4 (view 0), params.yaml's train settings, "
        f"1 + {epochs} semi epochs (the first not counted),"
    )
    typer.echo(f"device {device or 'the stage default'}, {os.cpu_count()} CPU cores")
    typer.echo(
        f"{'N':>7} {'load s':>7} {'fp16 GB':>8} {'peak RSS GB':>12} {'RSS/fp16':>9} {'(RSS-1GB)/fp16':>15} "
        f"{'semi epoch s':>13} {'s/1k img':>9} {'vs N=' + str(ns[0]):>10}"
    )
    rows: list[Measure] = []
    for n in ns:  # the smallest first: the baseline of the ratio, measured in this run
        m = measure(n, epochs, workdir, device)
        rows.append(m)
        typer.echo(
            f"{m.n:>7} {m.load_s:>7.1f} {m.fp16_bytes / 1e9:>8.2f} {m.peak_rss / 1e9:>12.2f}"
            f" {m.peak_rss / m.fp16_bytes:>9.2f} {(m.peak_rss - 1e9) / m.fp16_bytes:>15.2f} {m.semi_s:>13.1f}"
            f" {m.per_1k:>9.2f} {m.per_1k / rows[0].per_1k:>9.2f}x"
        )
    budget_ok = all(m.peak_rss <= 1.5 * m.fp16_bytes + 1e9 for m in rows)
    linear = max(m.per_1k for m in rows) <= 1.25 * min(m.per_1k for m in rows)
    typer.echo(
        f"peak RSS <= 1.5 x fp16 + 1 GB at every N: {'yes' if budget_ok else 'NO'}; "
        f"epoch time linear in N (within 25%): {'yes' if linear else 'NO'}"
    )
    if len(rows) > 1:
        _project(rows)


def _project(rows: list[Measure]) -> None:
    """Least-squares lines through the measurements (RSS against bytes, epoch seconds against N), extended."""
    rss = np.polyfit([m.fp16_bytes for m in rows], [m.peak_rss for m in rows], 1)
    semi = np.polyfit([m.n for m in rows], [m.semi_s for m in rows], 1)
    load = np.polyfit([m.fp16_bytes for m in rows], [m.load_s for m in rows], 1)
    typer.echo(
        f"fit: peak RSS = {rss[1] / 1e9:.2f} GB + {rss[0]:.2f} x fp16 bytes; "
        f"semi epoch = {semi[1]:.1f} s + {semi[0] * 1000:.2f} s per 1k images"
    )
    for name, (n_train, n_test) in DATASETS.items():
        b = fp16_bytes(n_train, n_test)
        typer.echo(
            f"projected {name} ({n_train:,} + {n_test:,} images): {b / 1e9:.1f} GB fp16, "
            f"peak RSS {np.polyval(rss, b) / 1e9:.1f} GB,"
            f" load {np.polyval(load, b):.0f} s, semi epoch {np.polyval(semi, n_train):.0f} s"
        )


if __name__ == "__main__":
    typer.run(main)
