"""Multi-label metrics as the SSMLL papers report them.

mAP: mean over classes of sklearn's average precision, x100, over the whole test set.
A class with no positive in ``y`` has no defined AP; it is excluded from the mean and
listed, as the metrics files say. CP/CR/CF1 average precision and recall over classes
(F1 of the averages); OP/OR/OF1 pool all image-class pairs.

sklearn is imported where it is used: at import it would add to the peak memory of the
train stage, which scores once at the end (docs/scale.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def per_class_ap(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AP x100 per class; NaN for a class without positives."""
    from sklearn.metrics import average_precision_score

    out = np.full(y.shape[1], np.nan)
    for k in range(y.shape[1]):
        if y[:, k].any():
            out[k] = 100.0 * average_precision_score(y[:, k], scores[:, k])
    return out


def mean_ap(y: np.ndarray, scores: np.ndarray) -> float:
    ap = per_class_ap(y, scores)
    return float(np.nanmean(ap)) if np.isfinite(ap).any() else float("nan")


def f1_report(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    """CP, CR, CF1, OP, OR, OF1 (x100) of hard predictions."""
    from sklearn.metrics import precision_recall_fscore_support

    y, pred = y.astype(bool), pred.astype(bool)
    p, r, _, _ = precision_recall_fscore_support(y, pred, average=None, zero_division=0)
    cp, cr = float(p.mean()), float(r.mean())
    op, orr, of1, _ = precision_recall_fscore_support(y, pred, average="micro", zero_division=0)
    return {
        "CP": 100 * cp,
        "CR": 100 * cr,
        "CF1": 100 * _f1(cp, cr),
        "OP": 100 * float(op),
        "OR": 100 * float(orr),
        "OF1": 100 * float(of1),
    }


def _f1(p: float, r: float) -> float:
    return 2 * p * r / (p + r) if p + r > 0 else 0.0


def evaluation(y: np.ndarray, scores: np.ndarray, pred: np.ndarray) -> dict[str, Any]:
    """mAP and the F1 family of one variant, rounded for the metrics file."""
    out = {"mAP": mean_ap(y, scores), **f1_report(y, pred)}
    return {k: round(v, 4) for k, v in out.items()}


def classes_without_positives(y: np.ndarray, classes: list[str]) -> list[str]:
    return [c for c, n in zip(classes, y.sum(0)) if n == 0]
