"""The evaluate stage command on the tiny features, after the stages dvc.yaml puts before it."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import yaml
from stage_runner import assert_fails_cleanly, run_through
from tiny_params import REPO, TINY, write_params

from ssmll.data.tables import multihot
from ssmll.encoding.record import read_text_features
from ssmll.encoding.store import read_image_features
from ssmll.encoding.zeroshot import zeroshot_scores
from ssmll.evaluation.average_precision import mean_ap
from ssmll.evaluation.baselines import linear_probe_scores
from stages.evaluate import cli

VARIANTS = ("zeroshot", "linear_probe", "linear_probe_all_labels")


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, tiny):
    """A working directory after evaluate, its inputs made by the tiny session and the stages before it."""
    root = write_params(tmp_path_factory.mktemp("evaluate"), {"split.lb_ratio": 0.5})
    return run_through(root, tiny.prepared, tiny.features, "evaluate")


def variant_metrics(root: Path, variant: str) -> dict:
    return json.loads((root / "metrics/eval" / f"{variant}.json").read_text())


def evaluate_stage() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]["evaluate"]


def test_metrics_hold_map_cf1_and_of1_per_variant_and_the_report_the_rest(evaluated, tiny):
    """The object scenes have a long tail: rare classes in the labeled part, so a tail mAP beside mAP, CF1 and OF1."""
    report = json.loads((evaluated / "metrics/eval_report.json").read_text())
    assert report["test_images"] == TINY["data.objects.n_test"]
    assert "fixed before the test set" in report["threshold_rule"]
    assert set(report["precision_and_recall"]["method"]) == {"CP", "CR", "OP", "OR"}
    priors = json.loads((evaluated / "data/split/priors.json").read_text())
    tail = [c for c, p in zip(priors["classes"], priors["priors"]) if p < 0.05]
    assert report["tail_classes"] == tail != []
    y_test = multihot(tiny.dataset.tables["test"].column("labels"), len(tiny.dataset.classes))
    assert any(y_test[:, priors["classes"].index(c)].any() for c in tail)  # so the tail mAP has a value
    for variant in VARIANTS:
        assert set(variant_metrics(evaluated, variant)) == {"mAP", "CF1", "OF1", "tail_mAP"}


def test_dvc_yaml_declares_each_variant_file_as_metrics_and_the_report_as_a_plain_output(evaluated):
    """One metrics row per variant in ``dvc metrics show``; the sentences stay out of it."""
    written = sorted(p.stem for p in (evaluated / "metrics/eval").iterdir())
    header = (evaluated / "metrics/plots/pr_curves.csv").read_text().splitlines()[0].split(",")
    declared = [next(iter(m)) for m in evaluate_stage()["metrics"]]
    assert declared == [f"metrics/eval/{v}.json" for v in header[1:]] and sorted(header[1:]) == written
    assert {"metrics/eval_report.json": {"cache": False}} in evaluate_stage()["outs"]


def test_zeroshot_map_is_that_of_the_cached_features(evaluated, tiny):
    test = read_image_features(tiny.features, "test", views=1)
    scores = zeroshot_scores(test.global_[:, 0], read_text_features(tiny.features))
    y = multihot(tiny.dataset.tables["test"].column("labels"), len(tiny.dataset.classes))
    assert variant_metrics(evaluated, "zeroshot")["mAP"] == pytest.approx(mean_ap(y, scores), abs=1e-3)


def test_the_oracle_probe_learns_every_training_label_and_is_marked_as_such(evaluated, tiny):
    train, test = (read_image_features(tiny.features, s, views=1) for s in ("train", "test"))
    y = multihot(tiny.dataset.tables["train"].column("labels"), len(tiny.dataset.classes))
    y_test = multihot(tiny.dataset.tables["test"].column("labels"), len(tiny.dataset.classes))
    scores = linear_probe_scores(train.global_[:, 0], y, test.global_[:, 0])
    oracle = variant_metrics(evaluated, "linear_probe_all_labels")
    assert oracle["mAP"] == pytest.approx(mean_ap(y_test, scores), abs=1e-3)
    report = json.loads((evaluated / "metrics/eval_report.json").read_text())
    assert "reported only" in report["oracle_variants"]["linear_probe_all_labels"]


def test_predictions_and_per_class_ap_cover_every_variant(evaluated, tiny):
    predictions = pq.read_table(evaluated / "data/evaluate/predictions.parquet")
    variants = set(predictions.column("variant").to_pylist())
    assert set(VARIANTS) <= variants
    assert predictions.num_rows == len(variants) * TINY["data.objects.n_test"]
    with open(evaluated / "metrics/plots/per_class_ap.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["class"] for r in rows] == tiny.dataset.classes
    assert set(VARIANTS) <= set(rows[0])
    positives = multihot(tiny.dataset.tables["test"].column("labels"), len(tiny.dataset.classes)).any(0)
    assert [r["linear_probe"] != "" for r in rows] == positives.tolist()  # AP is undefined without a test positive
    assert np.isfinite([float(r["linear_probe"]) for r, p in zip(rows, positives) if p]).all()


def test_pr_curves_have_every_variant_and_dvc_plots_draws_them_all(evaluated):
    with open(evaluated / "metrics/plots/pr_curves.csv") as f:
        header = next(csv.reader(f))
    variants = sorted(p.stem for p in (evaluated / "metrics/eval").iterdir())
    assert header[0] == "recall" and sorted(header[1:]) == variants
    plots = {name: p for entry in yaml.safe_load((REPO / "dvc.yaml").read_text())["plots"] for name, p in entry.items()}
    assert plots["precision_recall"]["y"]["metrics/plots/pr_curves.csv"] == header[1:]


def test_missing_features_name_the_stage_to_run(workdir, tiny):
    root = workdir()
    shutil.copytree(tiny.prepared, root / "data" / "prepared")
    assert_fails_cleanly(cli, root, "run the extract stage first")


def test_missing_prepared_tables_name_the_stage_to_run(workdir):
    assert_fails_cleanly(cli, workdir(), "run the prepare stage first")
