"""Pseudo-labels for unlabeled images from teacher probabilities, with confidence masks.

Rules (``threshold``):
  cap   class-distribution-aware (CAP): per class, the top ``pos_fraction * prior * n``
        images are positive and the bottom ``neg_fraction`` of the other ``(1 - prior) * n``
        negative;
        with both fractions 1 every entry is labeled, below 1 the uncertain middle is
        masked out of the loss.
  fixed one probability threshold for every class.
  mat   per class, the threshold maximising F-beta of the teacher on the labeled part.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssmll.errors import UserError
from ssmll.thresholds import apply_thresholds, descending_ranks, mat_thresholds, prior_counts

RULES = ("cap", "fixed", "mat")


@dataclass(frozen=True)
class PseudoConfig:
    """A threshold rule: the ``pseudo`` params, and the rule part of the ``train`` params."""

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
class PseudoLabels:
    targets: np.ndarray  # (N, C) 0/1 float32
    mask: np.ndarray  # (N, C) 1 where the entry takes part in the loss


def make_pseudo_labels(
    probs: np.ndarray,
    priors: np.ndarray,
    cfg: PseudoConfig,
    labeled_probs: np.ndarray | None = None,
    labeled_y: np.ndarray | None = None,
    pos_fraction: float = 1.0,
    neg_fraction: float = 1.0,
) -> PseudoLabels:
    """Hard targets and a loss mask for ``probs`` (N, C) under ``cfg.threshold``.

    ``pos_fraction`` and ``neg_fraction`` are CAP's confidence masks (1: every entry labeled).
    """
    cfg.validate()
    if not (0.0 <= pos_fraction <= 1.0 and 0.0 <= neg_fraction <= 1.0):
        raise UserError("pos_fraction and neg_fraction must be within [0, 1]")
    if cfg.threshold == "cap":
        return _cap(probs, priors, pos_fraction, neg_fraction)
    if cfg.threshold == "fixed":
        targets = probs >= cfg.fixed_threshold
    else:
        if labeled_probs is None or labeled_y is None:
            raise ValueError("the mat rule needs the teacher's probabilities on labeled images")
        targets = apply_thresholds(probs, mat_thresholds(labeled_probs, labeled_y, cfg.mat_beta))
    return PseudoLabels(targets.astype(np.float32), np.ones_like(probs, dtype=np.float32))


def _cap(probs: np.ndarray, priors: np.ndarray, pos_fraction: float, neg_fraction: float) -> PseudoLabels:
    """Top of each class positive, bottom negative, by counts set from the labeled priors."""
    n = len(probs)
    priors = np.clip(priors, 0.0, 1.0)
    ranks = descending_ranks(probs)
    positive = ranks < prior_counts(pos_fraction * priors, n)[None, :]
    n_negative = np.rint(neg_fraction * (n - prior_counts(priors, n))).astype(int)
    negative = ranks >= n - n_negative[None, :]
    return PseudoLabels(positive.astype(np.float32), (positive | negative).astype(np.float32))
