"""Average precision per class and its mean (mAP), as the SSMLL papers report them: sklearn's AP, x100.

Its own small module, apart from the rest of the metrics, because the embedded CLIP's pretraining
reports zero-shot mAP with it: only an edit of AP itself should make that stage stale. sklearn is
imported where it is used: at import it would add to the peak memory of the train stage, which
scores once at the end (docs/scale.md).
"""

from __future__ import annotations

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
