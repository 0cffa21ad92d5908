"""Pseudo-labels for unlabeled images from teacher probabilities, with confidence masks.

Rules (``threshold``, :mod:`ssmll.method.thresholds`):
  cap   class-distribution-aware (CAP): per class, the top ``pos_fraction * prior * n``
        images are positive and the bottom ``neg_fraction`` of the other ``(1 - prior) * n``
        negative, by rank (exact counts, ties by image order); with both fractions 1
        every entry is labeled, below 1 the uncertain middle is masked out of the loss.
  fixed one probability threshold for every class.
  mat   per class, the threshold maximising F-beta of the teacher on the labeled part.

One config (:class:`PseudoConfig`, the ``pseudo`` params) and one function
(:func:`label_pool`) serve both the training loop, which relabels the unlabeled part with
its EMA teacher every epoch, and the pseudolabel stage, which labels it with the trained
model: both label the same way.

This module also writes the pseudolabel stage's output directory: ``pseudolabels.parquet``
(image_id, labels as class indices, scores) and ``pseudolabels.csv`` (image_id, path,
labels as class names joined by ``|``) for people and other tools.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import torch

from ssmll.core.errors import UserError
from ssmll.core.files import atomic_path, write_table_to
from ssmll.method.coteacher import blend, class_weights
from ssmll.method.featureset import FeatureSet, predict, predict_views
from ssmll.method.thresholds import (
    Scores,
    ThresholdConfig,
    apply_thresholds,
    class_thresholds,
    descending_ranks,
    prior_counts,
)

#: Which cached views the teacher's scores of an image average: all of them, or the plain one (view 0).
TEACHER_VIEWS = ("all", "plain")

#: What the student learns from a kept entry: the rule's 0/1 decision, or the teacher's probability itself.
TARGETS = ("hard", "soft")


@dataclass(frozen=True)
class PseudoConfig(ThresholdConfig):
    """The ``pseudo`` params: a threshold rule, CAP's confidence masks (1: every entry labeled), the teacher's views."""

    pos_fraction: float = 1.0  # share of the prior-sized top of each class taken as positives
    neg_fraction: float = 1.0  # share of the rest taken as negatives; the middle is masked out
    teacher_views: str = (
        "all"  # average the teacher's probabilities over every cached view (MixMatch's label guess) | plain
    )
    targets: str = "hard"  # hard: the rule's 0/1 decisions | soft: the teacher's probabilities
    align: bool = False  # scale each class's probabilities so their mean over the pool is its labeled prior
    min_labeled_positives: int = 0  # a class with fewer labeled positives gets no pseudo-label entry (0: none left out)
    zeroshot_prior: float = 40.0  # labeled positives CLIP's zero-shot ranking counts as, per class (0: no co-teacher)

    def validate(self) -> None:
        super().validate()
        if not (0.0 <= self.pos_fraction <= 1.0 and 0.0 <= self.neg_fraction <= 1.0):
            raise UserError("pseudo.pos_fraction and pseudo.neg_fraction must be within [0, 1]")
        if self.teacher_views not in TEACHER_VIEWS:
            raise UserError(f"pseudo.teacher_views={self.teacher_views!r}; choose one of {', '.join(TEACHER_VIEWS)}")
        if self.targets not in TARGETS:
            raise UserError(f"pseudo.targets={self.targets!r}; choose one of {', '.join(TARGETS)}")
        if self.min_labeled_positives < 0:
            raise UserError("pseudo.min_labeled_positives must be >= 0")
        if self.zeroshot_prior < 0:
            raise UserError("pseudo.zeroshot_prior must be >= 0 (0: no zero-shot co-teacher)")


def teacher_view_count(cfg: PseudoConfig) -> int | None:
    """How many cached views of the training images the teacher reads: every one (None) or the plain one."""
    return None if cfg.teacher_views == "all" else 1


@dataclass
class PseudoLabels:
    targets: np.ndarray  # (N, C) float32: 0/1 decisions, or probabilities with soft targets
    mask: np.ndarray  # (N, C) 1 where the entry takes part in the loss
    decisions: np.ndarray | None = None  # (N, C) the rule's 0/1 decisions when ``targets`` are soft

    @property
    def hard(self) -> np.ndarray:
        """(N, C) the rule's 0/1 decisions, whether the targets are those or probabilities."""
        return self.targets if self.decisions is None else self.decisions

    @property
    def positives(self) -> np.ndarray:
        """(N, C) bool: the kept positives the rule decided on (what the stage writes and is measured)."""
        return (self.hard * self.mask) > 0


def make_pseudo_labels(cfg: PseudoConfig, scores: Scores) -> PseudoLabels:
    """Targets and a loss mask for ``scores.scores`` (N, C) under ``cfg.threshold``, ``cfg.targets``, ``cfg.align``.

    The rule decides on the teacher's own ranking, which alignment does not change; soft
    targets keep the rule's mask and replace its 0/1 decisions by the (aligned) probabilities,
    so that an uncertain entry pulls the student less than a confident one instead of being
    rounded to a label it may not have (confirmation bias).
    """
    cfg.validate()
    labels = _rare_left_out(LABELERS[cfg.threshold](cfg, scores), scores, cfg.min_labeled_positives)
    if cfg.targets == "hard":
        return labels
    probs = aligned(scores.scores, scores.priors) if cfg.align else scores.scores
    return PseudoLabels(probs.astype(np.float32), labels.mask, labels.targets)


def _rare_left_out(labels: PseudoLabels, s: Scores, min_positives: int) -> PseudoLabels:
    """Mask out every entry of the classes with fewer than ``min_positives`` labeled positives.

    CAP sizes a class's pseudo-positives by its labeled prior; from one to three labeled
    positives that prior is off by a factor, and every entry of the class is labeled by it.
    Left out, such a class learns from its labeled images (and the text prior) alone.
    """
    if min_positives == 0:
        return labels
    if s.labeled_y is None:
        raise ValueError("pseudo.min_labeled_positives needs the labeled part's labels")
    rare = (s.labeled_y > 0).sum(0) < min_positives
    mask = labels.mask.copy()
    mask[:, rare] = 0.0
    return PseudoLabels(labels.targets, mask, labels.decisions)


def aligned(probs: np.ndarray, priors: np.ndarray) -> np.ndarray:
    """Distribution alignment: each class's probabilities scaled so that their mean is its labeled prior (clipped to 1).

    A teacher trained on few labels, or on a long tail, is biased towards the classes it saw
    most; alignment (ReMixMatch's, per class for multi-label) pulls its soft targets back
    to the class frequencies the labeled part shows.
    """
    mean = probs.mean(0)
    scale = np.divide(np.clip(priors, 0.0, 1.0), mean, out=np.ones_like(mean, dtype=np.float64), where=mean > 0)
    return np.clip(probs * scale[None, :], 0.0, 1.0)


def label_pool(
    model: torch.nn.Module,
    feats: FeatureSet,
    pool: np.ndarray,
    labeled: np.ndarray,
    priors: np.ndarray,
    cfg: PseudoConfig,
    zero_shot: tuple[np.ndarray, np.ndarray] | None = None,
) -> tuple[np.ndarray, PseudoLabels]:
    """``model``'s probabilities of the rows ``pool`` and their pseudo-labels under ``cfg``.

    With ``cfg.teacher_views`` all, an image's probabilities are the mean over its cached
    views (the plain one and the strong ones the student learns from), as MixMatch guesses
    labels (chosen by cross-validation on the labeled part, docs/method.md). The labeled
    rows are scored the same way. The rule may look at the labeled rows' scores and labels
    and the labeled priors, never at a label of ``pool``.
    """
    score = _teacher_score(cfg)
    probs, labeled_probs = score(model, feats, pool), score(model, feats, labeled)
    if cfg.zeroshot_prior > 0:
        zs_pool, zs_labeled = zero_shot if zero_shot is not None else zero_shot_scores(model, feats, pool, labeled, cfg)
        weights = class_weights(zs_labeled, feats.y[labeled], cfg.zeroshot_prior)
        probs, labeled_probs = blend(probs, zs_pool, weights), blend(labeled_probs, zs_labeled, weights)
    return probs, make_pseudo_labels(cfg, Scores(probs, priors, labeled_probs, feats.y[labeled]))


def zero_shot_scores(
    model: torch.nn.Module, feats: FeatureSet, pool: np.ndarray, labeled: np.ndarray, cfg: PseudoConfig
) -> tuple[np.ndarray, np.ndarray]:
    """CLIP's label-specific zero-shot scores (``model.zero_shot()``) of ``pool`` and ``labeled``, over the
    teacher's views."""
    score, start = _teacher_score(cfg), model.zero_shot()
    return score(start, feats, pool), score(start, feats, labeled)


def _teacher_score(cfg: PseudoConfig) -> Callable[[torch.nn.Module, FeatureSet, np.ndarray], np.ndarray]:
    """How the teacher scores rows: its mean over every cached view, or the plain view alone."""
    return predict_views if cfg.teacher_views == "all" else predict


def _cap(cfg: PseudoConfig, s: Scores) -> PseudoLabels:
    """Top of each class positive, bottom negative, by counts set from the labeled priors."""
    n = len(s.scores)
    priors = np.clip(s.priors, 0.0, 1.0)
    ranks = descending_ranks(s.scores)
    positive = ranks < prior_counts(cfg.pos_fraction * priors, n)[None, :]
    n_negative = np.rint(cfg.neg_fraction * (n - prior_counts(priors, n))).astype(int)
    negative = ranks >= n - n_negative[None, :]
    return PseudoLabels(positive.astype(np.float32), (positive | negative).astype(np.float32))


def _thresholded(cfg: PseudoConfig, s: Scores) -> PseudoLabels:
    """Every entry labeled by the rule's class-wise thresholds (the masks are CAP's alone)."""
    targets = apply_thresholds(s.scores, class_thresholds(cfg, s))
    return PseudoLabels(targets.astype(np.float32), np.ones_like(s.scores, dtype=np.float32))


#: How each threshold rule of :data:`ssmll.method.thresholds.RULES` labels a pool.
LABELERS: dict[str, Callable[[PseudoConfig, Scores], PseudoLabels]] = {
    "cap": _cap,
    "fixed": _thresholded,
    "mat": _thresholded,
}


def write_pseudo_labels(
    out_dir: Path,
    image_ids: list[str],
    paths: list[str | None],
    probs: np.ndarray,
    positives: np.ndarray,
    classes: list[str],
) -> None:
    """The pseudo-labels (and scores) of the images ``image_ids``, as Parquet and CSV, atomically."""
    table = pa.table(
        {
            "image_id": pa.array(image_ids, pa.string()),
            "labels": pa.array([np.flatnonzero(r).tolist() for r in positives], pa.list_(pa.int16())),
            "scores": pa.FixedSizeListArray.from_arrays(pa.array(probs.astype(np.float32).ravel()), probs.shape[1]),
        }
    )
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["image_id", "path", "labels"])
    for i, p, row in zip(image_ids, paths, positives):
        writer.writerow([i, p or "", "|".join(classes[k] for k in np.flatnonzero(row))])
    with atomic_path(out_dir, is_dir=True) as tmp:
        write_table_to(table, tmp / "pseudolabels.parquet")
        (tmp / "pseudolabels.csv").write_text(buf.getvalue())
