"""ssmll.evaluation.scoring: the metrics files and report, per-class AP for dvc plots, and the predictions table."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
import torch

from ssmll.evaluation.average_precision import per_class_ap
from ssmll.evaluation.baselines import linear_probe
from ssmll.evaluation.metrics import TAIL_KEY, evaluation, tail_map
from ssmll.evaluation.scoring import (
    HEADLINE,
    ORACLES,
    PROBE_ORACLE,
    RECALL_LEVELS,
    THRESHOLD_RULE,
    all_labels_probe,
    evaluation_scorers,
    headline,
    per_class_ap_csv,
    pr_curves_csv,
    predictions_table,
    report,
    score_variants,
    variant_results,
)
from ssmll.method.featureset import FeatureSet, predict
from ssmll.method.model import AlignmentModel, ModelConfig
from ssmll.method.thresholds import cap_thresholds

CLASSES = ["zero", "one", "two", "three"]


@pytest.fixture
def data() -> tuple[np.ndarray, dict[str, np.ndarray]]:
    rng = np.random.default_rng(0)
    y = (rng.random((30, 4)) < 0.4).astype(np.float32)
    y[:, 3] = 0  # a class without test positives
    scores = {"zeroshot": rng.random((30, 4)), "linear_probe": rng.random((30, 4)) + y}
    return y, scores


def test_every_variant_is_decided_at_its_own_thresholds(data):
    y, scores = data
    thresholds = {"zeroshot": np.full(4, 0.5), "linear_probe": np.array([0.2, 0.4, 0.6, 0.8])}
    results = variant_results(y, scores, thresholds)
    for name, s in scores.items():
        assert results[name] == evaluation(y, s, s >= thresholds[name][None, :])
    assert results["linear_probe"]["mAP"] > results["zeroshot"]["mAP"]


def test_metrics_files_hold_the_headline_and_the_report_the_rest(data):
    """Each number lands in one file: a variant's metrics file, or the report (precision and recall)."""
    y, scores = data
    results = variant_results(y, scores, {name: np.full(4, 0.5) for name in scores})
    out = report(y, results, CLASSES)
    for name, result in results.items():
        assert list(headline(result)) == list(HEADLINE) == ["mAP", "CF1", "OF1"]
        assert {**headline(result), **out["precision_and_recall"][name]} == result
        assert set(out["precision_and_recall"][name]) == {"CP", "CR", "OP", "OR"}
    assert out["test_images"] == 30
    assert out["classes_excluded_from_mAP"] == ["three"]
    assert "excluded" in out["mAP_policy"] and out["threshold_rule"] == THRESHOLD_RULE


def test_a_tail_adds_its_map_to_the_metrics_files_and_its_classes_to_the_report(data):
    """The tail mAP is a headline number where rare classes exist; the report names them either way."""
    y, scores = data
    thresholds = {name: np.full(4, 0.5) for name in scores}
    tail = np.array([True, False, False, True])  # "three" has no test positives: the tail mAP is "zero"'s AP
    results = variant_results(y, scores, thresholds, tail)
    for name, result in results.items():
        assert list(headline(result)) == [*HEADLINE, TAIL_KEY]
        assert headline(result)[TAIL_KEY] == round(tail_map(y, scores[name], tail), 4)
    out = report(y, results, CLASSES, tail)
    assert out["tail_classes"] == ["zero", "three"] and "5%" in out["tail_policy"]
    assert all(TAIL_KEY not in pr for pr in out["precision_and_recall"].values())
    untailed = variant_results(y, scores, thresholds, np.zeros(4, dtype=bool))
    assert all(list(headline(r)) == list(HEADLINE) for r in untailed.values())
    assert report(y, untailed, CLASSES, np.zeros(4, dtype=bool))["tail_classes"] == []


def test_per_class_csv_has_one_row_per_class_and_a_column_per_variant(data):
    y, scores = data
    rows = list(csv.reader(io.StringIO(per_class_ap_csv(y, scores, CLASSES))))
    assert rows[0] == ["class", "zeroshot", "linear_probe"]
    assert [r[0] for r in rows[1:]] == CLASSES
    assert rows[4][1:] == ["", ""]
    expected = per_class_ap(y, scores["linear_probe"])
    np.testing.assert_allclose([float(r[2]) for r in rows[1:4]], expected[:3], atol=5e-5)


def test_predictions_table_has_a_row_per_variant_and_image(data):
    _, scores = data
    ids = [f"test_{i:06d}" for i in range(30)]
    table = predictions_table(ids, scores)
    assert table.num_rows == 2 * 30
    assert table.column_names == ["image_id", "variant", "scores"]
    assert table.column("scores").type.list_size == 4
    rows = table.to_pylist()
    for name, s in scores.items():
        mine = [r for r in rows if r["variant"] == name]
        assert [r["image_id"] for r in mine] == ids
        np.testing.assert_array_equal(np.array([r["scores"] for r in mine], np.float32), s.astype(np.float32))


def _curves(y, scores) -> dict[str, np.ndarray]:
    rows = list(csv.DictReader(io.StringIO(pr_curves_csv(y, scores))))
    assert [float(r["recall"]) for r in rows] == pytest.approx(RECALL_LEVELS)
    return {name: np.array([float(r[name]) for r in rows]) for name in scores}


def test_pr_curves_are_the_best_micro_precision_at_each_recall_or_more(data):
    y, scores = data
    curves = _curves(y, scores)
    truth, s = y.ravel() > 0, scores["linear_probe"].ravel()
    points = [(truth[s >= t].mean(), (truth & (s >= t)).sum() / truth.sum()) for t in np.unique(s)]
    for level, got in zip(RECALL_LEVELS, curves["linear_probe"]):
        expected = max((p for p, r in points if r >= level - 1e-12), default=0.0)
        assert got == pytest.approx(expected, abs=1e-4)
    assert (np.diff(curves["zeroshot"]) <= 1e-12).all()  # interpolated curves never rise with recall


def test_a_perfect_ranking_has_precision_one_at_every_recall():
    y = np.array([[1, 0], [0, 1], [0, 0]], dtype=np.float32)
    assert (_curves(y, {"perfect": y + 0.1})["perfect"] == 1.0).all()


def test_thresholds_come_from_the_unlabeled_training_images_never_the_test_set():
    """CF1/OF1 thresholds: each variant's scores of the unlabeled part and the labeled priors (CAP), before the test."""
    rng = np.random.default_rng(1)
    train = FeatureSet.from_arrays(rng.random((40, 1, 3)), rng.random((40, 1, 2, 3)), np.zeros((40, 2)))
    test = FeatureSet.from_arrays(rng.random((10, 1, 3)), rng.random((10, 1, 2, 3)), np.zeros((10, 2)))
    labeled = np.zeros(40, dtype=bool)
    labeled[:8] = True
    seen: list[int] = []

    def first_two(feats, rows):
        seen.append(len(feats) if rows is None else len(rows))
        return feats.global_array(rows)[:, :2]

    priors = np.array([0.25, 0.5])
    scores, thresholds = score_variants({"v": first_two}, test, train, labeled, priors)
    np.testing.assert_array_equal(scores["v"], test.global_array()[:, :2])
    np.testing.assert_array_equal(thresholds["v"], cap_thresholds(train.global_array(np.arange(8, 40))[:, :2], priors))
    assert seen == [10, 32] and "before the test set" in THRESHOLD_RULE


def test_the_evaluate_stage_scores_the_baselines_the_probe_oracle_and_the_trained_models_in_that_order():
    rng = np.random.default_rng(2)
    y = (rng.random((40, 2)) < 0.5).astype(np.float32)
    train = FeatureSet.from_arrays(rng.random((40, 1, 3)), rng.random((40, 1, 2, 3)), y)
    test = FeatureSet.from_arrays(rng.random((10, 1, 3)), rng.random((10, 1, 2, 3)), np.zeros((10, 2)))
    text = rng.random((2, 3)).astype(np.float32)
    model = AlignmentModel(torch.from_numpy(text), torch.ones(2, 1), ModelConfig()).eval()
    scorers = evaluation_scorers(train, np.arange(10), text, {"method": model}, ModelConfig(), 1.0)
    assert list(scorers) == ["zeroshot", "linear_probe", "zeroshot_label_specific", PROBE_ORACLE, "method"]
    np.testing.assert_array_equal(scorers["method"](test, None), predict(model, test))
    probe = linear_probe(train.global_array(), train.y, c=1.0)
    np.testing.assert_array_equal(scorers[PROBE_ORACLE](test, None), probe(test.global_array()))
    np.testing.assert_array_equal(all_labels_probe(train, 1.0)(test, np.arange(3)), probe(test.global_array()[:3]))
    assert all("reported only, never used to choose" in note for note in ORACLES.values())
