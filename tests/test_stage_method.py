"""The method's stage commands (contexts, train, pseudolabel) on the tiny features, as DVC runs them."""

from __future__ import annotations

import csv
import importlib
import json
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from stage_runner import assert_fails_cleanly, invoke, run_through
from tiny_params import write_params

from ssmll.data.split import read_labeled_split
from ssmll.evaluation.workspace import load_workspace
from ssmll.method.pseudo import PseudoConfig, label_pool
from ssmll.method.thresholds import prior_counts
from ssmll.method.variants import train_params
from ssmll.serving.bundle import load_bundle
from stages.contexts import cli as contexts_cli
from stages.pseudolabel import cli as pseudolabel_cli
from stages.split import cli as split_cli
from stages.train import cli as train_cli

FAST = {
    "split.lb_ratio": 0.5,
    "train.epochs": 3,
    "train.warmup_epochs": 1,
    "train.batch_size": 16,
    "pseudo.pos_fraction": 0.5,
}


def classes_of(root: Path) -> list[str]:
    """The class names the prepare stage wrote into ``root``."""
    return json.loads((root / "data/prepared/classes.json").read_text())["classes"]


@pytest.fixture(scope="module")
def trained(tmp_path_factory, tiny):
    """A working directory after pseudolabel (so after contexts, train and train_supervised)."""
    root = write_params(tmp_path_factory.mktemp("method"), FAST)
    return run_through(root, tiny.prepared, tiny.features, "pseudolabel", "train_supervised")


def test_contexts_write_assignment_heat_map_and_summary(trained):
    contexts = json.loads((trained / "data/contexts/contexts.json").read_text())
    n_classes = len(classes_of(trained))
    assert contexts["classes"] == classes_of(trained)
    assert len(contexts["assignment"]) == n_classes and len(contexts["contexts"]) == 3
    assert sorted(c for group in contexts["contexts"] for c in group) == sorted(contexts["classes"])
    lines = (trained / "metrics/plots/cooccurrence.csv").read_text().splitlines()
    assert lines[0] == "class,with,affinity" and len(lines) == 1 + n_classes**2
    summary = json.loads((trained / "metrics/contexts_report.json").read_text())
    assert summary["k"] == 3 and len(summary["contexts"]) == 3
    assert list(json.loads((trained / "metrics/contexts.json").read_text())) == ["ARI"]


def test_train_writes_a_bundle_metrics_and_curves(trained):
    bundle = load_bundle(trained / "data/models/method.pt")
    assert len(bundle.training["history"]) == FAST["train.epochs"] and bundle.training["variant"] == "method"
    assert bundle.classes == classes_of(trained)
    assert sorted(c for group in bundle.contexts for c in group) == sorted(bundle.classes)
    assert bundle.thresholds.shape == (len(bundle.classes),) and bundle.encoder.grid == 2
    record = load_bundle(trained / "data/models/supervised.pt").training
    assert list(record["train"]) == train_params("supervised") and "pseudo" not in record
    metrics = json.loads((trained / "metrics/train.json").read_text())
    assert metrics["variant"] == "method" and "pseudo_precision" in metrics
    curves = (trained / "metrics/plots/train_curves.csv").read_text().splitlines()
    assert curves[0].startswith("epoch,") and len(curves) == 1 + FAST["train.epochs"]
    supervised = json.loads((trained / "metrics/train_supervised.json").read_text())
    assert supervised["variant"] == "supervised" and "pseudo_precision" not in supervised


def test_pseudolabels_cover_the_unlabeled_part_with_scores_and_quality(trained):
    table = pq.read_table(trained / "data/pseudolabels/pseudolabels.parquet")
    split = pq.read_table(trained / "data/split/split.parquet")
    assert table.num_rows == int((~split.column("labeled").to_numpy()).sum())
    scores = np.stack(table.column("scores").to_numpy(zero_copy_only=False))
    assert scores.shape == (table.num_rows, len(classes_of(trained))) and ((scores >= 0) & (scores <= 1)).all()
    quality = json.loads((trained / "metrics/pseudo.json").read_text())
    assert set(quality) == {"CF1", "OF1"}
    report = json.loads((trained / "metrics/pseudo_report.json").read_text())
    assert set(report["precision_and_recall"]) == {"CP", "CR", "OP", "OR"}
    assert report["rule"] == "cap" and report["unlabeled_images"] == table.num_rows


def test_pseudolabel_labels_as_training_does_with_the_one_pseudo_config(trained):
    """The pseudo params (masks included) that training used are the ones the pseudolabel stage applies."""
    assert load_bundle(trained / "data/models/method.pt").training["pseudo"]["pos_fraction"] == 0.5
    table = pq.read_table(trained / "data/pseudolabels/pseudolabels.parquet")
    train_ids = pq.read_table(trained / "data/prepared/train.parquet").column("image_id").to_pylist()
    classes = classes_of(trained)
    priors = read_labeled_split(trained / "data/split", train_ids, classes).priors
    counts = np.bincount(
        np.concatenate([np.asarray(r, dtype=np.int64) for r in table.column("labels").to_pylist()]),
        minlength=len(classes),
    )
    np.testing.assert_array_equal(counts, prior_counts(0.5 * priors, table.num_rows))


def _pseudolabel_scores(trained, tmp_path, monkeypatch, overrides: dict) -> tuple[np.ndarray, Callable]:
    """The stage's scores under ``overrides``, and label_pool's scores under a given config, same model and split."""
    root = write_params(Path(shutil.copytree(trained, tmp_path / "run")), {**FAST, **overrides})
    monkeypatch.chdir(root)
    assert invoke(pseudolabel_cli).exit_code == 0
    got = np.asarray(pq.read_table(root / "data/pseudolabels/pseudolabels.parquet").column("scores").to_pylist())
    model = load_bundle(root / "data/models/method.pt").model
    ws = load_workspace(root / "data/prepared", root / "data/features", root / "data/split")
    unl, lab = np.flatnonzero(~ws.labeled), np.flatnonzero(ws.labeled)
    return got, lambda cfg: label_pool(model, ws.train, unl, lab, ws.priors, cfg)[0]


@pytest.mark.parametrize("teacher_views", ["all", "plain"])
def test_pseudolabel_scores_the_views_training_scores(trained, teacher_views, tmp_path, monkeypatch):
    """The stage's scores are label_pool's over the views ``pseudo.teacher_views`` names, as training's are."""
    got, expected = _pseudolabel_scores(trained, tmp_path, monkeypatch, {"pseudo.teacher_views": teacher_views})
    for views in ("all", "plain"):
        same = np.allclose(got, expected(PseudoConfig(pos_fraction=0.5, teacher_views=views)), atol=1e-6)
        assert same == (views == teacher_views), views


def test_pseudolabel_blends_the_zero_shot_co_teacher_as_training_does(trained, tmp_path, monkeypatch):
    got, expected = _pseudolabel_scores(trained, tmp_path, monkeypatch, {"pseudo.zeroshot_prior": 20.0})
    for prior in (0.0, 20.0):
        same = np.allclose(got, expected(PseudoConfig(pos_fraction=0.5, zeroshot_prior=prior)), atol=1e-6)
        assert same == (prior > 0), prior


def test_pseudolabels_csv_names_the_labels_of_the_parquet(trained):
    table = pq.read_table(trained / "data/pseudolabels/pseudolabels.parquet").to_pylist()
    classes = classes_of(trained)
    with open(trained / "data/pseudolabels/pseudolabels.csv") as f:
        rows = list(csv.DictReader(f))
    assert list(rows[0]) == ["image_id", "path", "labels"] and len(rows) == len(table)
    for row, t in zip(rows, table):
        assert row["image_id"] == t["image_id"]
        assert row["labels"] == "|".join(classes[k] for k in t["labels"])
    assert any(row["labels"] for row in rows)


def test_training_twice_gives_identical_checkpoints(trained, monkeypatch):
    monkeypatch.chdir(trained)
    first = (trained / "data/models/method.pt").read_bytes()
    assert invoke(train_cli, "--variant", "method").exit_code == 0
    assert (trained / "data/models/method.pt").read_bytes() == first


def test_the_generator_groups_in_the_prepared_data_give_an_adjusted_rand_index(trained):
    assert (trained / "data/prepared/classes.json").is_file() and not (trained / "metrics/data.json").exists()
    ari = json.loads((trained / "metrics/contexts.json").read_text())["ARI"]
    assert -1 <= ari <= 1


BAD_TRAIN = {
    "warmup_longer_than_training": ({"train.warmup_epochs": 99}, "warmup_epochs"),
    "unknown_threshold_rule": ({"pseudo.threshold": "median"}, "median"),
    "unknown_alignment": ({"model.alignment": "mean"}, "model.alignment"),
    "unknown_key": ({"train.epoch": 3}, "unknown param train.epoch"),
    "epochs_not_an_integer": ({"train.epochs": "ten"}, "param train.epochs must be an integer, got 'ten'"),
    "flag_not_a_bool": (
        {"model.include_global_token": "yes"},
        "param model.include_global_token must be true or false",
    ),
}


@pytest.mark.parametrize("overrides, message", BAD_TRAIN.values(), ids=BAD_TRAIN.keys())
def test_bad_train_params_fail_cleanly(trained, overrides, message, monkeypatch):
    monkeypatch.chdir(trained)
    write_params(trained, {**FAST, **overrides})
    try:
        assert_fails_cleanly(train_cli, trained, message)
    finally:
        write_params(trained, FAST)


def test_contexts_k_above_the_number_of_classes_fails_cleanly(trained, monkeypatch):
    monkeypatch.chdir(trained)
    k = len(classes_of(trained)) + 1
    write_params(trained, {**FAST, "contexts.k": k})
    try:
        assert_fails_cleanly(contexts_cli, trained, f"contexts.k={k}")
    finally:
        write_params(trained, FAST)


def test_pseudolabel_without_a_model_names_the_stage_to_run(workdir, tiny):
    root = workdir(FAST)
    shutil.copytree(tiny.prepared, root / "data" / "prepared")
    shutil.copytree(tiny.features, root / "data" / "features")
    assert invoke(split_cli).exit_code == 0
    assert_fails_cleanly(pseudolabel_cli, root, "run the train stage first")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
@pytest.mark.parametrize("stage", ["train", "pseudolabel", "evaluate"])
def test_cuda_from_the_environment_without_cuda_is_a_user_error(trained, stage, monkeypatch):
    monkeypatch.chdir(trained)
    monkeypatch.setenv("SSMLL_DEVICE", "cuda")
    cli = importlib.import_module(f"stages.{stage}").cli
    assert_fails_cleanly(cli, trained, "CUDA is not available here; use --device cpu")


def test_a_device_name_torch_does_not_know_is_a_user_error(trained, monkeypatch):
    monkeypatch.chdir(trained)
    assert_fails_cleanly(
        train_cli, trained, "--device 'gpu' is not a device; use cpu, cuda or cuda:N", args=("--device", "gpu")
    )


def test_train_reports_the_fp16_bytes_it_holds_and_each_epoch_time(trained, monkeypatch):
    monkeypatch.chdir(trained)
    result = invoke(train_cli, "--variant", "supervised", "--device", "cpu")
    assert result.exit_code == 0, result.output
    assert re.search(r"loaded features of 120 \+ 60 images \(0\.\d\d GB fp16\) in \d+\.\d s", result.stderr)
    assert (
        len(re.findall(r"^epoch +\d+ \[labeled\] loss \d\.\d{4} \d+\.\d\d s$", result.stderr, re.M))
        == FAST["train.epochs"]
    )
