"""Turning scores into hard labels: class-wise threshold rules, looked up by name.

``cap``: class k's positives are the top ``round(prior_k * n)`` images by score, so the
fraction called positive equals the labeled prior exactly (ties are broken by image
order, so equal scores cannot inflate the count); as a threshold, the score of the last
of them. ``fixed``: one value for all classes. ``mat``: per class, the threshold that
maximises F-beta on labeled scores. A rule sees :class:`Scores`: the scores of the
images to label, the labeled part's priors, and the labeled part's own scores and labels;
never a hidden label.

A trained model's decisions (its bundle's thresholds, and every variant's CF1/OF1 in the
evaluate stage) follow one rule, :func:`decision_thresholds` (:data:`DECISION_RULE`), fixed
before the test set.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ssmll.core.errors import UserError


@dataclass(frozen=True)
class ThresholdConfig:
    """A threshold rule and its settings (part of the ``pseudo`` params, :class:`ssmll.method.pseudo.PseudoConfig`)."""

    threshold: str = "cap"  # the rule: cap | fixed | mat
    fixed_threshold: float = 0.5
    mat_beta: float = 1.0

    def validate(self) -> None:
        if self.threshold not in RULES:
            raise UserError(f"threshold rule {self.threshold!r} is unknown; choose one of {', '.join(RULES)}")
        if not 0.0 < self.fixed_threshold < 1.0:
            raise UserError("the fixed threshold must be a probability within (0, 1)")
        if self.mat_beta <= 0:
            raise UserError("mat_beta must be positive")


@dataclass
class Scores:
    """What a threshold rule may look at."""

    scores: np.ndarray  # (N, C) the images to label
    priors: np.ndarray  # (C,) class frequencies of the labeled part
    labeled_scores: np.ndarray | None = None  # (L, C) the labeled images' scores, for mat
    labeled_y: np.ndarray | None = None  # (L, C) their labels


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


def _mat(s: Scores, cfg: ThresholdConfig) -> np.ndarray:
    if s.labeled_scores is None or s.labeled_y is None:
        raise ValueError("the mat rule needs the model's scores of the labeled images")
    return mat_thresholds(s.labeled_scores, s.labeled_y, cfg.mat_beta)


#: Each rule's class-wise thresholds (C,), from what it may see.
RULES: dict[str, Callable[[Scores, ThresholdConfig], np.ndarray]] = {
    "cap": lambda s, cfg: cap_thresholds(s.scores, s.priors),
    "fixed": lambda s, cfg: np.full(s.scores.shape[1], cfg.fixed_threshold),
    "mat": _mat,
}


def class_thresholds(cfg: ThresholdConfig, scores: Scores) -> np.ndarray:
    """Class-wise thresholds under the rule ``cfg`` names."""
    cfg.validate()
    return RULES[cfg.threshold](scores, cfg)


def apply_thresholds(scores: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    return scores >= thresholds[None, :]


#: What :func:`decision_thresholds` sets each class's threshold to (the bundle and the eval metrics say it).
DECISION_RULE = (
    "the score of the last of the round(prior * n) highest-scoring unlabeled training images, "
    "prior from the labeled part"
)


def decision_thresholds(
    score_rows: Callable[[np.ndarray], np.ndarray], labeled: np.ndarray, priors: np.ndarray
) -> np.ndarray:
    """A trained model's class-wise decision thresholds, by :data:`DECISION_RULE` (cap on the unlabeled part).

    ``score_rows`` gives the model's (n, C) scores of rows of the training pool; it is asked
    for the unlabeled rows (the labeled ones when every image is labeled), so neither a hidden
    label nor the test set sets a threshold.
    """
    unlabeled = np.flatnonzero(~labeled)
    rows = unlabeled if len(unlabeled) else np.flatnonzero(labeled)
    return cap_thresholds(score_rows(rows), priors)
