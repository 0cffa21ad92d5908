"""ssmll.evaluation.metrics: mAP as sklearn defines it, and the F1 family as the SSMLL papers report it."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import average_precision_score

from ssmll.evaluation.average_precision import mean_ap, per_class_ap
from ssmll.evaluation.metrics import (
    TAIL_KEY,
    TAIL_PREVALENCE,
    classes_without_positives,
    evaluation,
    f1_report,
    tail_classes,
    tail_map,
)


def _random_data(seed: int, decimals: int) -> tuple[np.ndarray, np.ndarray]:
    """Labels with every class present, and scores rounded so that many of them tie."""
    rng = np.random.default_rng(seed)
    y = (rng.random((80, 6)) < 0.3).astype(np.float32)
    y[0] = 1
    scores = np.round(rng.random((80, 6)) + 0.5 * y, decimals)
    return y, scores


@pytest.mark.parametrize("seed, decimals", [(0, 1), (1, 2), (2, 2)])
def test_map_equals_sklearn_macro_average_precision(seed, decimals):
    y, scores = _random_data(seed, decimals)
    assert all(len(np.unique(column)) < len(column) for column in scores.T), "the data should have ties"
    assert mean_ap(y, scores) == pytest.approx(100 * average_precision_score(y, scores, average="macro"), abs=1e-9)


def test_per_class_ap_equals_sklearn_per_class():
    y, scores = _random_data(3, 1)
    expected = [100 * average_precision_score(y[:, k], scores[:, k]) for k in range(y.shape[1])]
    np.testing.assert_allclose(per_class_ap(y, scores), expected)


def test_class_without_positives_is_excluded_from_the_mean_and_listed():
    y, scores = _random_data(4, 2)
    y[:, 2] = 0
    ap = per_class_ap(y, scores)
    assert math.isnan(ap[2])
    assert mean_ap(y, scores) == pytest.approx(np.mean(np.delete(ap, 2)))
    assert classes_without_positives(y, list("abcdef")) == ["c"]


def test_map_without_any_positive_is_nan():
    assert math.isnan(mean_ap(np.zeros((5, 2)), np.random.default_rng(0).random((5, 2))))


# Per class: (TP, FP, FN) = (1, 1, 1), (2, 1, 0), (0, 1, 1); pooled: (3, 3, 2).
Y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 0]])
PRED = np.array([[1, 1, 0], [0, 1, 0], [0, 1, 1], [1, 0, 0]])


def test_f1_family_matches_a_hand_computation():
    cp, cr = (1 / 2 + 2 / 3 + 0) / 3, (1 / 2 + 1 + 0) / 3
    op, orr = 3 / 6, 3 / 5
    expected = {
        "CP": 100 * cp,
        "CR": 100 * cr,
        "CF1": 100 * 2 * cp * cr / (cp + cr),
        "OP": 100 * op,
        "OR": 100 * orr,
        "OF1": 100 * 2 * op * orr / (op + orr),
    }
    assert f1_report(Y, PRED) == pytest.approx(expected)
    assert expected["CF1"] == pytest.approx(43.75)


def test_f1_of_no_predictions_is_zero_not_an_error():
    report = f1_report(Y, np.zeros_like(Y))
    assert report["CF1"] == 0.0 and report["OF1"] == 0.0


def test_evaluation_has_map_and_the_f1_family_rounded():
    y, scores = _random_data(5, 3)
    result = evaluation(y, scores, scores > 0.8)
    assert set(result) == {"mAP", "CP", "CR", "CF1", "OP", "OR", "OF1"}
    assert result["mAP"] == round(mean_ap(y, scores), 4)
    assert all(round(v, 4) == v for v in result.values())


def test_tail_classes_are_those_under_the_prevalence_cut():
    assert TAIL_PREVALENCE == 0.05
    priors = np.array([0.01, 0.05, 0.3, 0.049, 0.0])
    assert tail_classes(priors).tolist() == [True, False, False, True, True]


def test_tail_map_is_the_map_of_the_tail_columns():
    y, scores = _random_data(6, 2)
    tail = np.array([True, False, False, True, False, False])
    assert tail_map(y, scores, tail) == pytest.approx(mean_ap(y[:, [0, 3]], scores[:, [0, 3]]))


def test_tail_map_is_none_without_a_rare_class_with_test_positives():
    y, scores = _random_data(7, 2)
    assert tail_map(y, scores, np.zeros(6, dtype=bool)) is None
    y[:, 1] = 0
    assert tail_map(y, scores, np.eye(6, dtype=bool)[1]) is None


def test_evaluation_has_a_tail_map_only_where_there_is_a_tail():
    y, scores = _random_data(8, 3)
    priors = np.array([0.02, 0.3, 0.3, 0.3, 0.3, 0.3])
    with_tail = evaluation(y, scores, scores > 0.8, tail_classes(priors))
    assert with_tail[TAIL_KEY] == round(mean_ap(y[:, :1], scores[:, :1]), 4)
    assert TAIL_KEY not in evaluation(y, scores, scores > 0.8, tail_classes(np.full(6, 0.3)))
    assert {k: v for k, v in with_tail.items() if k != TAIL_KEY} == evaluation(y, scores, scores > 0.8)
