"""The benchmarks run as their docstrings say, on tiny sizes (their figures are quoted in docs/scale.md)."""

from __future__ import annotations

import re
import subprocess
import sys

import pandas as pd
import pytest
from PIL import Image
from stage_runner import run_through
from tiny_params import REPO, write_params

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def split_data(tmp_path_factory, tiny):
    """A working directory after the split stage: data/prepared, data/features, data/split and params.yaml."""
    root = write_params(tmp_path_factory.mktemp("bench"), {"split.lb_ratio": 0.5})
    return run_through(root, tiny.prepared, tiny.features, "split")


def run(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def run_study(script: str, root, *args: str) -> str:
    """A study under studies/ on the working directory ``root`` (its data/ and params.yaml)."""
    return run(f"studies/{script}", "--data", str(root / "data"), "--params", str(root / "params.yaml"), *args)


def test_scale_benchmark_prints_memory_time_and_projection(tmp_path):
    out = run(
        "benchmarks/scale.py", "--sizes", "128,256", "--epochs", "2", "--workdir", str(tmp_path), "--device", "cpu"
    )
    rows = re.findall(r"^ +(128|256)(?: +-?[\d.]+){7} +[\d.]+x$", out, re.M)
    assert rows == ["128", "256"], out
    assert "peak RSS <= 1.5 x fp16 + 1 GB at every N:" in out and "projected NUS-WIDE" in out
    assert list(tmp_path.iterdir()) == []  # the synthetic data is removed


def test_extract_throughput_benchmark_compares_end_to_end_with_the_model_alone():
    out = run(
        "benchmarks/extract_throughput.py",
        "--n",
        "32",
        "--naive-n",
        "4",
        "--workers",
        "1",
        "--batch-size",
        "32",
        "--model",
        "ViT-S-32",
        "--photo-size",
        "96",
        "--device",
        "cpu",
    )
    assert re.search(r"model only .* [\d.]+ images/s", out)
    assert re.search(r"end to end .* [\d.]+ images/s +\([\d.]+ of model only\)", out)
    assert re.search(r"naive .*\(end to end: [\d.]+x naive\)", out)


def test_method_table_reports_every_variant_and_the_oracles(split_data):
    """A row per variant with pseudo-label quality next to the method's, and both oracles under the table."""
    out = run_study("method_table.py", split_data, "--ratios", "0.5", "--seeds", "1", "--jobs", "1")
    rows = dict(re.findall(r"^\| (\w+) \| (\d+\.\d+ ± \d+\.\d+)", out, re.M))
    assert set(rows) == {"zeroshot", "zeroshot_label_specific", "linear_probe", "supervised", "method"}, out
    # The object scenes' long tail leaves rare classes in the labeled part: a tail column beside each ratio's.
    assert re.search(r"^\| variant \| 0\.5 \| 0\.5 tail \|$", out, re.M), out
    assert re.search(r"^\| method \| [\d.]+ ± [\d.]+ \[[\d.]+ / [\d.]+\] \| [\d.]+ ± [\d.]+ \|$", out, re.M), out
    oracles = re.findall(r"^(\w+_all_labels) \(oracle: .*\): \d+\.\d+, tail \d+\.\d+$", out, re.M)
    assert oracles == ["linear_probe_all_labels", "supervised_all_labels"], out


def test_label_specific_benchmark_reads_out_every_block_both_last_block_paths_and_the_crops(split_data):
    out = run_study("label_specific.py", split_data)
    rows = re.findall(r"^\| ((?:block|crops) [^|]+?) \|(?: [\d.]+ \|)+$", out, re.M)
    want = ["block 1", "block 2", "block 3", "block 4", "block 4 value path", "crops 2 x 2 of side 0.5 (extract)"]
    assert rows == want, out


@pytest.mark.parametrize("prior", ["model", "global"])
def test_text_prior_study_scores_both_variants_at_every_strength(split_data, prior):
    out = run_study("text_prior.py", split_data, "--ratios", "0.5", "--prior", prior)
    rows = re.findall(r"^\| 0\.5 \| (\w+) \|((?: [\d.]+(?: \(tail [\d.]+\))? \|)+)$", out, re.M)
    assert [name for name, _ in rows] == ["supervised", "method"], out
    assert all(cells.count("|") == 6 for _, cells in rows), out


def test_text_prior_study_refuses_an_unknown_prior(tmp_path):
    args = ["studies/text_prior.py", "--data", str(tmp_path), "--prior", "both"]
    proc = subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "Invalid value for '--prior'" in proc.stderr, proc.stderr
    assert "'both' is not one of 'model'" in " ".join(proc.stderr.split()), proc.stderr  # the choices, unwrapped


def test_free_layout_world_writes_a_manifest_of_sixteen_classes_and_both_splits(tmp_path):
    out = run("studies/free_layout_world.py", "--out", str(tmp_path), "--n-train", "12", "--n-test", "6", "--seed", "3")
    assert "18 images" in out, out
    table = pd.read_csv(tmp_path / "manifest.csv")
    classes = (tmp_path / "classes.txt").read_text().split()
    assert len(classes) == 16 and table["split"].value_counts().to_dict() == {"train": 12, "test": 6}
    assert all(
        1 <= len(labels.split("|")) <= 5 and set(labels.split("|")) <= set(classes) for labels in table["labels"]
    )
    assert all(Image.open(tmp_path / p).size == (64, 64) for p in table["path"])
