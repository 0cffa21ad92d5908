"""Scores of the reference variants that need no training of our own model."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier

from ssmll.encoding.zeroshot import normalize


def linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, c: float = 1.0, max_iter: int = 1000
) -> Callable[[np.ndarray], np.ndarray]:
    """One-vs-rest logistic regression on labeled global features, as a function to probabilities.

    A class that has no labeled positive (or no negative) gets a constant score.
    """
    clf = OneVsRestClassifier(LogisticRegression(C=c, max_iter=max_iter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, UserWarning))
        clf.fit(normalize(train_x), train_y.astype(int))
    return lambda x: clf.predict_proba(normalize(x))


def linear_probe_scores(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, c: float = 1.0, max_iter: int = 1000
) -> np.ndarray:
    """The probabilities of :func:`linear_probe` fitted on ``train_x`` for ``test_x``."""
    return linear_probe(train_x, train_y, c, max_iter)(test_x)
