"""How far a fresh default run's metrics fall from the committed baseline, per CPU setting.

Clones the repository's HEAD into temporary folders and runs the default pipeline
(``dvc repro``) once per setting: the machine's defaults, one torch thread, and, where
the CPU has them, AVX2 kernels instead of AVX-512 in ATen, MKL and oneDNN
(``ATEN_CPU_CAPABILITY``, ``MKL_ENABLE_INSTRUCTIONS``, ``ONEDNN_MAX_CPU_ISA``), which stands in
for another CPU. Prints, per setting, the largest ``dvc metrics diff`` against
the committed metrics and the metric it comes from: the spread that
``tests/test_baseline.py``'s TOLERANCE must cover.

    python studies/baseline_tolerance.py --settings default,threads1,avx2
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

import typer

ROOT = Path(__file__).resolve().parents[1]

SETTINGS = {
    "default": {},
    "threads1": {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
    "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "MKL_ENABLE_INSTRUCTIONS": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
}


def run_setting(name: str, workdir: Path) -> tuple[float, str, float]:
    """(largest metric difference, which metric, minutes) of one fresh default run."""
    repo = workdir / name
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", **SETTINGS[name]}
    start = time.perf_counter()
    subprocess.run(["dvc", "repro", "-q"], cwd=repo, env=env, check=True)
    minutes = (time.perf_counter() - start) / 60
    diff = json.loads(
        subprocess.run(
            ["dvc", "metrics", "diff", "--json"], cwd=repo, env=env, check=True, capture_output=True, text=True
        ).stdout
    )
    worst, where = 0.0, "-"
    for path, changes in diff.items():
        for key, change in changes.items():
            if not isinstance(change.get("diff"), (int, float)):
                continue
            if abs(change["diff"]) > worst:
                worst, where = abs(change["diff"]), f"{path}:{key}"
    return worst, where, minutes


def main(settings: str = typer.Option("default,threads1,avx2", help="Comma-separated: " + ", ".join(SETTINGS))) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        typer.echo("| setting | largest metric change | metric | minutes |")
        typer.echo("|---|---|---|---|")
        for name in settings.split(","):
            worst, where, minutes = run_setting(name, Path(tmp))
            typer.echo(f"| {name} | {worst:.4f} | {where} | {minutes:.1f} |")


if __name__ == "__main__":
    typer.run(main)
