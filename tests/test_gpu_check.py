"""benchmarks/gpu_check.py: without CUDA the one command runs every check at tiny size, skips GPU targets, exits 0."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch
from tiny_params import REPO

sys.path.insert(0, str(REPO / "benchmarks"))

import gpu_check  # noqa: E402


@pytest.mark.slow
def test_the_command_runs_tiny_without_cuda_says_what_it_skipped_and_exits_0(tmp_path):
    out = tmp_path / "reports" / "gpu-check.json"
    workdir = tmp_path / "scratch" / "not-made-yet"  # made by the command
    proc = subprocess.run(
        [sys.executable, "benchmarks/gpu_check.py", str(out), "--tiny", "--workdir", str(workdir)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    summary = json.loads(out.read_text())
    rows = summary["rows"]
    checks = ("CUDA-marked tests", "extraction:", "default pipeline", "torchrun", "ssmll predict", "training:")
    assert all(any(r["what"].startswith(c) for r in rows) for c in checks), [r["what"] for r in rows]
    assert not [r for r in rows if r["held"] is False]
    assert "what" in proc.stdout and "held" in proc.stdout  # the table
    torchrun = next(r for r in rows if r["what"].startswith("torchrun"))
    assert torchrun["held"] is True  # gloo on a CPU, NCCL on a GPU: the same bytes as a plain run
    if not torch.cuda.is_available():
        skipped = [r for r in rows if r["target"] and r["held"] is None]
        assert len(skipped) >= 6 and all("skipped:" in r["note"] for r in skipped)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["reports", "scratch"]
    assert workdir.is_dir() and not any(workdir.iterdir())  # the workdir made, its scratch in it removed


def test_the_cuda_tests_are_found_by_their_skip_reason():
    ids = gpu_check.cuda_test_ids()
    assert ids and all("::test_" in i for i in ids)
    assert "tests/test_trainer.py::test_training_on_cuda_keeps_model_teacher_and_features_there" in ids


def test_the_baseline_is_read_from_either_metrics_layout(tmp_path):
    one_file, per_variant = tmp_path / "old", tmp_path / "new"
    (one_file / "metrics").mkdir(parents=True)
    (one_file / "metrics" / "eval.json").write_text(
        json.dumps({"method": {"mAP": 78.1}, "supervised": {"mAP": 77.5}, "mAP_policy": "classes without positives"})
    )
    (per_variant / "metrics" / "eval").mkdir(parents=True)
    for variant, value in (("method", 78.1), ("supervised", 77.5)):
        (per_variant / "metrics" / "eval" / f"{variant}.json").write_text(json.dumps({"mAP": value, "CF1": 70.0}))
    assert gpu_check.eval_maps(one_file) == gpu_check.eval_maps(per_variant) == {"method": 78.1, "supervised": 77.5}
    assert gpu_check.eval_maps(REPO)  # the committed baseline, in whichever layout it is


def test_the_table_says_held_not_held_skipped_or_figure_only():
    rows = [
        gpu_check.Row("a", "1", ">= 1", True),
        gpu_check.Row("b", "0", ">= 1", False),
        gpu_check.Row("c", "-", ">= 1", None, "skipped: no CUDA here"),
        gpu_check.Row("d", "7"),
    ]
    lines = gpu_check.table_text(rows).splitlines()
    assert [line.split()[-1] for line in lines[2:6]] == ["yes", "NO", "skipped", "-"]
    assert lines[-1] == "- c: skipped: no CUDA here"
