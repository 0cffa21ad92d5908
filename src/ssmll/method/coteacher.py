"""CLIP's zero-shot ranking as a second teacher of the pseudo-labels, weighted per class.

The EMA teacher learns from the labeled part, so with a few labeled positives of a class
it ranks that class's unlabeled images by little more than those positives, and relabels
the pool every epoch with what it already believes (confirmation bias). CLIP's
label-specific zero-shot scoring (:meth:`ssmll.method.model.AlignmentModel.zero_shot`) saw
no label: an independent teacher whose ranking does not drift. Each class's teacher scores
are blended with it, weighted like a prior against data: the zero-shot ranking counts as
``strength * skill`` labeled positives, the class's labeled positives count as themselves,
so it leads for the rare classes and fades for the well-labeled ones (and as the labeled
ratio grows). ``skill`` is the zero-shot ranking's own measured quality on the labeled
part (mean 2 AUC - 1 over the classes: 0 at chance, so random weights or an unknown
vocabulary switch it off).

The blend is read at the EMA teacher's calibration: a class's zero-shot ranks are mapped
onto the teacher's sorted probabilities of that class (quantile matching), so that it is
a probability whatever the scale of the raw cosines.

The same skill gates the pseudo-labels' weight in training (:func:`skill_gate`): features
in which CLIP cannot rank the classes (random weights) give an EMA teacher that is no
better, and its pseudo-labels then cost accuracy.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

from ssmll.method.thresholds import descending_ranks


def skill(zero_shot: np.ndarray, labeled_y: np.ndarray) -> float:
    """Mean over the classes with labeled positives and negatives of ``2 AUC - 1``, clipped to [0, 1]."""
    y = labeled_y > 0
    both = np.flatnonzero(y.any(0) & ~y.all(0))
    if len(both) == 0:
        return 0.0
    gini = [2.0 * roc_auc_score(y[:, k], zero_shot[:, k]) - 1.0 for k in both]
    return float(np.clip(np.mean(gini), 0.0, 1.0))


def skill_gate(measured: float, full: float) -> float:
    """The share of their weight pseudo-labels keep at zero-shot skill ``measured``: in full from ``full`` up
    (``full`` 0: always), falling linearly to none at chance."""
    return 1.0 if full == 0 else min(1.0, measured / full)


def class_weights(zero_shot_labeled: np.ndarray, labeled_y: np.ndarray, strength: float) -> np.ndarray:
    """(C,) each class's share of the zero-shot ranking: ``s / (s + n_k)``, ``s = strength * skill``."""
    prior = strength * skill(zero_shot_labeled, labeled_y)
    positives = (labeled_y > 0).sum(0).astype(np.float64)
    return np.divide(prior, prior + positives, out=np.zeros_like(positives), where=prior + positives > 0)


def blend(probs: np.ndarray, zero_shot: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """``probs`` (N, C) blended per class with the zero-shot ranking of the same rows, at ``probs``' calibration."""
    by_rank = -np.sort(-probs, axis=0)
    ranked = np.take_along_axis(by_rank, descending_ranks(zero_shot), axis=0)
    return ((1.0 - weights) * probs + weights * ranked).astype(probs.dtype)
