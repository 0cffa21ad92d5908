"""Turning scores into hard labels: class-wise threshold rules.

``cap``: class k's positives are the top ``round(prior_k * n)`` images by score, so the
fraction called positive equals the labeled prior exactly (ties are broken by image
order, so equal scores cannot inflate the count). ``fixed``: one value for all classes.
``mat``: per class, the threshold that maximises F-beta on labeled scores.
"""

from __future__ import annotations

import numpy as np


def descending_ranks(scores: np.ndarray) -> np.ndarray:
    """(N, C) rank of each entry within its class, highest score first, ties by image order."""
    order = np.argsort(-scores, axis=0, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(len(scores))[:, None], axis=0)
    return ranks


def prior_counts(priors: np.ndarray, n: int) -> np.ndarray:
    return np.rint(np.clip(priors, 0.0, 1.0) * n).astype(int)


def cap_labels(scores: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """(N, C) bool: per class, exactly ``round(prior * N)`` highest-scoring images positive."""
    return descending_ranks(scores) < prior_counts(priors, len(scores))[None, :]


def cap_thresholds(scores: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """The score of the last image ``cap_labels`` calls positive, per class (+inf if none)."""
    labels = cap_labels(scores, priors)
    masked = np.where(labels, scores, np.inf)
    return masked.min(0)


def fixed_labels(scores: np.ndarray, threshold: float) -> np.ndarray:
    return scores >= threshold


def mat_thresholds(scores: np.ndarray, y: np.ndarray, beta: float = 1.0) -> np.ndarray:
    """Per class, the score threshold maximising F-beta of ``scores >= t`` against ``y``.

    A class without labeled positives gets +inf (never positive).
    """
    n, c = scores.shape
    out = np.full(c, np.inf)
    b2 = beta * beta
    for k in range(c):
        pos = y[:, k] > 0
        if not pos.any():
            continue
        order = np.argsort(-scores[:, k], kind="stable")
        s, t = scores[order, k], pos[order]
        tp = np.cumsum(t)
        predicted = np.arange(1, n + 1)
        last_of_tie = np.r_[s[1:] != s[:-1], True]
        f = (1 + b2) * tp / (b2 * pos.sum() + predicted)
        f = np.where(last_of_tie, f, -1.0)
        out[k] = s[int(np.argmax(f))]
    return out


def apply_thresholds(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return scores >= thresholds[None, :]
