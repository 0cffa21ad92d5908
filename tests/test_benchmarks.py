"""The benchmarks run as their docstrings say, on tiny sizes (their figures are quoted in the README)."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tiny_params import REPO

pytestmark = pytest.mark.slow


def run(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_scale_benchmark_prints_memory_time_and_projection(tmp_path):
    out = run("benchmarks/scale.py", "--sizes", "128,256", "--epochs", "2", "--workdir", str(tmp_path), "--device", "cpu")
    rows = re.findall(r"^ +(128|256)(?: +-?[\d.]+){7} +[\d.]+x$", out, re.M)
    assert rows == ["128", "256"], out
    assert "peak RSS <= 1.5 x fp16 + 1 GB at every N:" in out and "projected NUS-WIDE" in out
    assert list(tmp_path.iterdir()) == []  # the synthetic data is removed


def test_extract_throughput_benchmark_compares_end_to_end_with_the_model_alone():
    out = run(
        "benchmarks/extract_throughput.py", "--n", "32", "--naive-n", "4", "--workers", "1", "--batch-size", "32",
        "--model", "ViT-S-32", "--photo-size", "96", "--device", "cpu",
    )
    assert re.search(r"model only .* [\d.]+ images/s", out)
    assert re.search(r"end to end .* [\d.]+ images/s +\([\d.]+ of model only\)", out)
    assert re.search(r"naive .*\(end to end: [\d.]+x naive\)", out)
