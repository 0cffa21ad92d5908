"""End to end: ``dvc repro`` and ``dvc exp run`` on a copy of this checkout with the tiny sizes.

The copy holds what a fresh clone of the working tree would (``checkout.copy_checkout``).
Only the size keys (``tiny_overrides()``: images, views, grid, epochs) differ from the
repository's params.yaml, so every stage runs as a user's ``dvc repro`` would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from checkout import ENV, copy_checkout, run, stages_run
from sklearn.metrics import average_precision_score
from tiny_params import TINY, tiny_overrides

pytestmark = pytest.mark.slow

VARIANTS = ("zeroshot", "linear_probe")


def eval_metrics(repo: Path) -> dict:
    """Each variant's metrics file (metrics/eval/<variant>.json), by variant."""
    return {p.stem: json.loads(p.read_text()) for p in (repo / "metrics" / "eval").glob("*.json")}


def sklearn_map(repo: Path, variant: str) -> float:
    """mAP recomputed from the written predictions and the prepared test labels, with sklearn."""
    test = pq.read_table(repo / "data/prepared/test.parquet").to_pylist()
    n_classes = len(json.loads((repo / "data/prepared/classes.json").read_text())["classes"])
    y = np.zeros((len(test), n_classes))
    for i, row in enumerate(test):
        y[i, row["labels"]] = 1
    rows = {
        r["image_id"]: r["scores"]
        for r in pq.read_table(repo / "data/evaluate/predictions.parquet").to_pylist()
        if r["variant"] == variant
    }
    scores = np.array([rows[row["image_id"]] for row in test])
    present = y.sum(0) > 0
    return 100 * float(np.mean([average_precision_score(y[:, k], scores[:, k]) for k in np.flatnonzero(present)]))


@pytest.fixture(scope="module")
def repro(tmp_path_factory) -> tuple[Path, str]:
    """A copy of the checkout after one ``dvc repro``, and that run's output."""
    repo = copy_checkout(tmp_path_factory.mktemp("pipeline"))
    return repo, run(repo, "dvc", "repro")


def test_repro_runs_prepare_extract_split_and_evaluate(repro):
    _, output = repro
    assert {"prepare", "extract", "split", "evaluate"} <= stages_run(output)


def test_eval_metrics_hold_both_variants(repro):
    repo, _ = repro
    metrics = eval_metrics(repo)
    for variant in VARIANTS:
        for key in ("mAP", "CF1", "OF1"):
            assert 0 <= metrics[variant][key] <= 100, (variant, key)
    report = json.loads((repo / "metrics" / "eval_report.json").read_text())
    assert report["test_images"] == TINY["data.objects.n_test"]


@pytest.mark.parametrize("variant", VARIANTS)
def test_map_matches_sklearn_on_the_written_predictions(repro, variant):
    repo, _ = repro
    assert eval_metrics(repo)[variant]["mAP"] == pytest.approx(sklearn_map(repo, variant), abs=0.01)


def test_second_repro_has_nothing_to_do(repro):
    repo, _ = repro
    assert stages_run(run(repo, "dvc", "repro")) == set()
    assert "up to date" in run(repo, "dvc", "status", "dvc.yaml")  # the studies' locks are the default run's


def test_extract_under_torchrun_from_dvc_repro_writes_the_same_features(repro):
    """SSMLL_EXTRACT_LAUNCHER makes dvc.yaml's extract command run under torchrun (2 processes, gloo): same bytes."""
    repo, _ = repro
    lock = (repo / "dvc.lock").read_text()
    launcher = f"{sys.executable} -m torch.distributed.run --standalone --nproc_per_node=2"
    output = run(repo, "dvc", "repro", "--force", "--single-item", "extract", env={"SSMLL_EXTRACT_LAUNCHER": launcher})
    assert "x 2 processes" in output
    assert (repo / "dvc.lock").read_text() == lock
    assert "up to date" in run(repo, "dvc", "status", "dvc.yaml")  # the studies' locks are the default run's


def test_extract_run_by_hand_then_dvc_commit_is_taken_as_the_stage_output(tmp_path):
    """The several-nodes route: extract run outside DVC (as torchrun on every node would), recorded by dvc commit."""
    repo = copy_checkout(tmp_path)
    run(repo, "dvc", "repro", "prepare")
    run(repo, sys.executable, "-m", "stages.extract", "--workers", "0", "--no-progress")
    run(repo, "dvc", "commit", "--force", "extract")
    assert stages_run(run(repo, "dvc", "repro", "contexts")) == {"split", "contexts"}


def test_exp_run_with_another_ratio_reruns_split_onwards_only(repro):
    repo, _ = repro
    before = eval_metrics(repo)
    # Overriding the tiny sizes too keeps them when dvc composes params.yaml from conf/ (Hydra).
    sizes = [arg for key, value in tiny_overrides().items() for arg in ("-S", f"{key}={value}")]
    output = run(repo, "dvc", "exp", "run", "-S", "split.lb_ratio=0.5", *sizes)
    ran = stages_run(output)
    assert {"split", "evaluate"} <= ran
    assert not ran & {"prepare", "extract"}
    after = eval_metrics(repo)
    assert json.loads((repo / "metrics/split.json").read_text())["lb_ratio"] == 0.5
    assert after["zeroshot"]["mAP"] == before["zeroshot"]["mAP"]
    assert after["linear_probe"] != before["linear_probe"]


def test_stage_imports_the_library_of_its_own_checkout(tmp_path):
    """As in the copies ``dvc exp run --queue`` makes: the copy's src/, not the installed ssmll."""
    repo = copy_checkout(tmp_path)
    (repo / "src/ssmll/__init__.py").write_text('raise SystemExit("ssmll of the copy")\n')
    proc = subprocess.run(
        [sys.executable, "-m", "stages.split", "--help"], cwd=repo, env=ENV, capture_output=True, text=True
    )
    assert "ssmll of the copy" in proc.stderr
    assert proc.returncode == 1
