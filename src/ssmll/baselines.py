"""Scores of the reference variants that need no training of our own model."""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier


def zeroshot_scores(image_global: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Cosine of each (normalised) global image embedding with each class text embedding."""
    return _normalize(image_global) @ _normalize(text).T


def linear_probe(
    train_x: np.ndarray, train_y: np.ndarray, c: float = 1.0, max_iter: int = 1000
) -> Callable[[np.ndarray], np.ndarray]:
    """One-vs-rest logistic regression on labeled global features, as a function to probabilities.

    A class that has no labeled positive (or no negative) gets a constant score.
    """
    clf = OneVsRestClassifier(LogisticRegression(C=c, max_iter=max_iter))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", (ConvergenceWarning, UserWarning))
        clf.fit(_normalize(train_x), train_y.astype(int))
    return lambda x: clf.predict_proba(_normalize(x))


def linear_probe_scores(
    train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, c: float = 1.0, max_iter: int = 1000
) -> np.ndarray:
    """The probabilities of :func:`linear_probe` fitted on ``train_x`` for ``test_x``."""
    return linear_probe(train_x, train_y, c, max_iter)(test_x)


def _normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
