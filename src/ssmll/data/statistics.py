"""Label statistics of a prepared dataset: how long its tail is, for metrics/data.json and its plot.

Semi-supervised gains live in the rare classes, so the summary says how rare they get: the
head class's share, how many classes sit under 2 % of the training images, and whether the
test set still holds enough positives of every class to score it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ssmll.data.tables import PreparedDataset, multihot

#: Train prevalence under which a class counts as rare in the summary.
RARE_PREVALENCE = 0.02


def _labels(ds: PreparedDataset, split: str) -> np.ndarray:
    return multihot(ds.tables[split].column("labels"), len(ds.classes))


def label_statistics(ds: PreparedDataset) -> dict[str, Any]:
    """Labels per image, head and rarest class, rare-class count and fewest test positives (train prevalences)."""
    train, test = _labels(ds, "train"), _labels(ds, "test")
    prevalence = train.mean(0)
    head, rarest = int(prevalence.argmax()), int(prevalence.argmin())
    stats: dict[str, Any] = {
        "labels_per_image": round(float(train.sum(1).mean()), 4),
        "head_class": ds.classes[head],
        "head_prevalence": round(float(prevalence[head]), 4),
        "classes_under_2_percent": int((prevalence < RARE_PREVALENCE).sum()),
        "rarest_class": ds.classes[rarest],
        "rarest_prevalence": round(float(prevalence[rarest]), 4),
        "min_test_positives": int(test.sum(0).min()),
    }
    if ds.groups is not None:
        stats["hidden_contexts"] = len(ds.groups)
    return stats


def class_frequency(ds: PreparedDataset) -> list[dict[str, Any]]:
    """Per class its train prevalence and test positives, most frequent first: the class-frequency plot's rows."""
    prevalence, positives = _labels(ds, "train").mean(0), _labels(ds, "test").sum(0)
    order = np.argsort(-prevalence, kind="stable")
    return [
        {
            "class": ds.classes[k],
            "train_prevalence": round(float(prevalence[k]), 5),
            "test_positives": int(positives[k]),
        }
        for k in order
    ]
