"""Multi-label metrics as the SSMLL papers report them.

mAP: mean over classes of sklearn's average precision, x100, over the whole test set.
A class with no positive in ``y`` has no defined AP; it is excluded from the mean and
listed, as the metrics files say. CP/CR/CF1 average precision and recall over classes
(F1 of the averages); OP/OR/OF1 pool all image-class pairs.

Tail mAP: the same mean over the rare classes only, those whose prevalence in the labeled
part is under :data:`TAIL_PREVALENCE`. When no class is that rare it has no value, and the
metrics files leave the key out (they hold numbers only).

AP itself lives in :mod:`ssmll.evaluation.average_precision`, which the embedded CLIP's
pretraining imports too: edits here leave that half-hour stage up to date.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ssmll.evaluation.average_precision import mean_ap

#: A class is rare ("tail") when under this fraction of the labeled images hold it: where a few
#: labeled positives are all the evidence, and where the SSMLL papers expect the unlabeled part to help most.
TAIL_PREVALENCE = 0.05

#: The key of the tail mAP in a variant's results and metrics file.
TAIL_KEY = "tail_mAP"


def tail_classes(priors: np.ndarray) -> np.ndarray:
    """Mask (C,) of the classes rarer than :data:`TAIL_PREVALENCE` in the labeled part (``priors``: frequencies)."""
    return np.asarray(priors) < TAIL_PREVALENCE


def tail_map(y: np.ndarray, scores: np.ndarray, tail: np.ndarray) -> float | None:
    """mAP x100 over the classes of mask ``tail`` that have positives in ``y``; None when there are none.

    None, not NaN: a world without rare classes has no tail mAP to report, and the callers leave it out.
    """
    tail = np.asarray(tail, dtype=bool)
    if not (tail & y.astype(bool).any(0)).any():
        return None
    return mean_ap(y[:, tail], scores[:, tail])


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


def evaluation(y: np.ndarray, scores: np.ndarray, pred: np.ndarray, tail: np.ndarray | None = None) -> dict[str, Any]:
    """mAP and the F1 family of one variant, rounded for the metrics file; its tail mAP too when ``tail`` has one."""
    out = {"mAP": mean_ap(y, scores), **f1_report(y, pred)}
    tail_value = None if tail is None else tail_map(y, scores, tail)
    if tail_value is not None:
        out[TAIL_KEY] = tail_value
    return {k: round(v, 4) for k, v in out.items()}


def classes_without_positives(y: np.ndarray, classes: list[str]) -> list[str]:
    return [c for c, n in zip(classes, y.sum(0)) if n == 0]
