"""ssmll.method.thresholds: class-distribution-aware (cap) and F-beta-maximising (mat) thresholds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import fbeta_score

from ssmll.method.thresholds import (
    Scores,
    ThresholdConfig,
    apply_thresholds,
    cap_labels,
    cap_thresholds,
    class_thresholds,
    decision_thresholds,
    mat_thresholds,
)

N = 200
PRIORS = np.array([0.0, 0.05, 0.13, 0.5, 1.0])


def _scores(kind: str) -> np.ndarray:
    rng = np.random.default_rng(0)
    scores = rng.random((N, len(PRIORS)))
    if kind == "ties":
        return np.round(scores, 1)
    if kind == "all_equal":
        return np.full_like(scores, 0.3)
    return scores


@pytest.mark.parametrize("kind", ["distinct", "ties", "all_equal"])
def test_cap_calls_exactly_the_prior_fraction_positive(kind):
    labels = cap_labels(_scores(kind), PRIORS)
    np.testing.assert_array_equal(labels.mean(0), PRIORS)


@pytest.mark.parametrize("kind", ["distinct", "ties"])
def test_cap_positives_score_at_least_as_high_as_negatives(kind):
    scores = _scores(kind)
    labels = cap_labels(scores, PRIORS)
    for k in range(1, len(PRIORS) - 1):
        assert scores[labels[:, k], k].min() >= scores[~labels[:, k], k].max()


def test_cap_breaks_ties_by_image_order():
    labels = cap_labels(_scores("all_equal"), PRIORS)
    np.testing.assert_array_equal(np.flatnonzero(labels[:, 1]), np.arange(10))


def test_cap_rounds_the_expected_count():
    scores = np.arange(10.0)[:, None]
    assert cap_labels(scores, np.array([0.26])).sum() == 3
    assert cap_labels(scores, np.array([0.24])).sum() == 2


def test_cap_threshold_is_the_lowest_positive_score():
    scores = _scores("distinct")
    thresholds = cap_thresholds(scores, PRIORS)
    assert thresholds[0] == np.inf
    labels = cap_labels(scores, PRIORS)
    for k in range(1, len(PRIORS)):
        assert thresholds[k] == scores[labels[:, k], k].min()


def _best_fbeta_by_brute_force(scores: np.ndarray, y: np.ndarray, beta: float) -> float:
    return max(fbeta_score(y, scores >= t, beta=beta, zero_division=0) for t in np.unique(scores))


@pytest.mark.parametrize("beta", [1.0, 0.5, 2.0])
@pytest.mark.parametrize("decimals", [None, 1])
def test_mat_threshold_maximises_fbeta(beta, decimals):
    rng = np.random.default_rng(3)
    y = rng.random((60, 4)) < [0.1, 0.3, 0.5, 0.8]
    scores = y * 0.3 + rng.random((60, 4))
    if decimals is not None:
        scores = np.round(scores, decimals)
    thresholds = mat_thresholds(scores, y.astype(float), beta=beta)
    for k in range(4):
        got = fbeta_score(y[:, k], scores[:, k] >= thresholds[k], beta=beta)
        assert got == pytest.approx(_best_fbeta_by_brute_force(scores[:, k], y[:, k], beta))


def test_mat_never_calls_a_class_without_labeled_positives():
    scores = np.random.default_rng(0).random((20, 2))
    y = np.zeros((20, 2))
    y[:5, 0] = 1
    thresholds = mat_thresholds(scores, y)
    assert thresholds[1] == np.inf
    assert not apply_thresholds(scores, thresholds)[:, 1].any()


def test_thresholds_include_the_threshold_itself():
    scores = np.array([[0.2, 0.5], [0.5, 0.9]])
    np.testing.assert_array_equal(apply_thresholds(scores, np.array([0.5, 0.9])), [[False, False], [True, True]])


def test_rules_are_looked_up_by_name():
    scores = _scores("distinct")
    y = (scores > 0.7).astype(float)
    seen = Scores(scores, PRIORS, scores, y)
    np.testing.assert_array_equal(class_thresholds(ThresholdConfig("cap"), seen), cap_thresholds(scores, PRIORS))
    np.testing.assert_array_equal(class_thresholds(ThresholdConfig("fixed", 0.3), seen), np.full(len(PRIORS), 0.3))
    np.testing.assert_array_equal(class_thresholds(ThresholdConfig("mat"), seen), mat_thresholds(scores, y))


def test_decision_thresholds_are_cap_on_the_unlabeled_rows_alone():
    scores = _scores("distinct")
    labeled = np.zeros(N, dtype=bool)
    labeled[::4] = True
    asked: list[np.ndarray] = []

    def score_rows(rows: np.ndarray) -> np.ndarray:
        asked.append(rows)
        return scores[rows]

    thresholds = decision_thresholds(score_rows, labeled, PRIORS)
    np.testing.assert_array_equal(asked[0], np.flatnonzero(~labeled))
    np.testing.assert_array_equal(thresholds, cap_thresholds(scores[~labeled], PRIORS))


def test_decision_thresholds_fall_back_to_the_labeled_rows_when_every_image_is_labeled():
    scores = _scores("distinct")
    thresholds = decision_thresholds(lambda rows: scores[rows], np.ones(N, dtype=bool), PRIORS)
    np.testing.assert_array_equal(thresholds, cap_thresholds(scores, PRIORS))
