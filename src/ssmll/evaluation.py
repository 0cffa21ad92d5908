"""Scoring every variant on the same test set and shaping the results for DVC."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
from sklearn.metrics import precision_recall_curve

from ssmll.errors import UserError
from ssmll.metrics import classes_without_positives, evaluation, per_class_ap
from ssmll.thresholds import cap_labels

@dataclass(frozen=True)
class EvaluateConfig:
    linear_probe_c: float = 1.0  # inverse L2 strength of the linear-probe baseline

    def validate(self) -> None:
        if self.linear_probe_c <= 0:
            raise UserError(f"evaluate.linear_probe_c={self.linear_probe_c} must be positive")


MAP_POLICY = "classes without test positives have no AP and are excluded from the mean"
THRESHOLD_RULE = "CF1/OF1 at class-wise thresholds: per class, the top round(prior*n) test images, prior from the labeled part"


def report(y: np.ndarray, scores: dict[str, np.ndarray], priors: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """The metrics file: one entry per variant (mAP, CF1, OF1, ...) and how they were computed."""
    out: dict[str, Any] = {name: evaluation(y, s, cap_labels(s, priors)) for name, s in scores.items()}
    out["test_images"] = int(len(y))
    out["classes_excluded_from_mAP"] = classes_without_positives(y, classes)
    out["mAP_policy"] = MAP_POLICY
    out["threshold_rule"] = THRESHOLD_RULE
    return out


def per_class_ap_csv(y: np.ndarray, scores: dict[str, np.ndarray], classes: list[str]) -> str:
    """Per-class AP, one row per class and one column per variant (empty where undefined)."""
    aps = {name: per_class_ap(y, s) for name, s in scores.items()}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["class", *aps])
    for k, c in enumerate(classes):
        writer.writerow([c, *("" if np.isnan(a[k]) else f"{a[k]:.4f}" for a in aps.values())])
    return buf.getvalue()


#: Recall levels at which the precision-recall curves are sampled.
RECALL_LEVELS = np.linspace(0.0, 1.0, 101)


def pr_curves_csv(y: np.ndarray, scores: dict[str, np.ndarray]) -> str:
    """Micro-averaged precision-recall curves, one column per variant, for ``dvc plots``.

    Every (image, class) pair of the test set is one decision; at each recall level of
    :data:`RECALL_LEVELS`, the interpolated precision (the best precision at that recall or
    higher), so that every variant has the same rows and the lines are monotone.
    """
    curves = {name: _interpolated_precision(y.ravel() > 0, s.ravel()) for name, s in scores.items()}
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["recall", *curves])
    for i, r in enumerate(RECALL_LEVELS):
        writer.writerow([f"{r:.2f}", *(f"{c[i]:.4f}" for c in curves.values())])
    return buf.getvalue()


def _interpolated_precision(truth: np.ndarray, scores: np.ndarray) -> np.ndarray:
    if not truth.any():
        return np.zeros_like(RECALL_LEVELS)
    precision, recall, _ = precision_recall_curve(truth, scores)
    return np.array([precision[recall >= r].max(initial=0.0) for r in RECALL_LEVELS])


def predictions_table(image_ids: list[str], scores: dict[str, np.ndarray]) -> pa.Table:
    """Long table of test scores: image_id, variant, scores (one float per class)."""
    names = [name for name in scores for _ in image_ids]
    ids = [i for _ in scores for i in image_ids]
    flat = np.concatenate([s.astype(np.float32) for s in scores.values()])
    c = flat.shape[1]
    return pa.table(
        {
            "image_id": pa.array(ids, pa.string()),
            "variant": pa.array(names, pa.string()),
            "scores": pa.FixedSizeListArray.from_arrays(pa.array(flat.ravel(), pa.float32()), c),
        }
    )
