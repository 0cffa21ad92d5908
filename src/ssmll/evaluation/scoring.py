"""Scoring every variant on the same test set and shaping the results for DVC.

Every variant is a *scorer*: scores for any rows of a feature set (view 0). The evaluate
stage and ``studies/method_table.py`` build the variants (and the oracles, :data:`ORACLES`)
here, score the test set with them, and decide CF1/OF1 with class-wise thresholds that each
variant's own scores of the unlabeled training images set (:data:`THRESHOLD_RULE`): the
test set chooses nothing.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import torch
from sklearn.metrics import precision_recall_curve

from ssmll.core.errors import UserError
from ssmll.encoding.zeroshot import image_tokens, zeroshot_label_specific, zeroshot_scores
from ssmll.evaluation.average_precision import per_class_ap
from ssmll.evaluation.baselines import linear_probe
from ssmll.evaluation.metrics import TAIL_KEY, TAIL_PREVALENCE, classes_without_positives, evaluation
from ssmll.method.featureset import FeatureSet, map_batches, predict
from ssmll.method.model import ModelConfig
from ssmll.method.thresholds import DECISION_RULE, apply_thresholds, decision_thresholds

#: Scores (n, C) of rows of a feature set (all of them for None), view 0.
Scorer = Callable[[FeatureSet, "np.ndarray | None"], np.ndarray]


@dataclass(frozen=True)
class EvaluateConfig:
    linear_probe_c: float = 1.0  # inverse L2 strength of the linear-probe baseline

    def validate(self) -> None:
        if self.linear_probe_c <= 0:
            raise UserError(f"evaluate.linear_probe_c={self.linear_probe_c} must be positive")


MAP_POLICY = "classes without test positives have no AP and are excluded from the mean"
THRESHOLD_RULE = (
    f"CF1/OF1 at class-wise thresholds fixed before the test set, per variant: {DECISION_RULE} "
    "(the model bundle's rule)"
)


def baseline_scorers(
    train: FeatureSet, labeled: np.ndarray, text: np.ndarray, model_cfg: ModelConfig, probe_c: float
) -> dict[str, Scorer]:
    """The variants that train no alignment model: CLIP zero-shot (global and label-specific) and a linear probe.

    The probe is fitted on the global embeddings of the rows ``labeled`` of ``train``; the
    label-specific read-out attends as ``model_cfg``'s untrained model does.
    """
    probe = linear_probe(train.global_array(labeled), train.y[labeled], c=probe_c)
    text_t = torch.from_numpy(text)

    def label_specific(g: torch.Tensor, loc: torch.Tensor) -> torch.Tensor:
        tokens = image_tokens(g, loc, model_cfg.include_global_token)
        return zeroshot_label_specific(tokens, text_t.to(g.device), model_cfg.attn_scale)

    return {
        "zeroshot": lambda feats, rows: zeroshot_scores(feats.global_array(rows), text),
        "linear_probe": lambda feats, rows: probe(feats.global_array(rows)),
        "zeroshot_label_specific": lambda feats, rows: map_batches(label_specific, feats, rows),
    }


def model_scorer(model: torch.nn.Module) -> Scorer:
    return lambda feats, rows: predict(model, feats, rows)


PROBE_ORACLE, SUPERVISED_ORACLE = "linear_probe_all_labels", "supervised_all_labels"
#: The oracles and what each is: upper references on every training label, not competitors. The evaluate
#: stage scores :data:`PROBE_ORACLE`; the studies also train :data:`SUPERVISED_ORACLE`
#: (:func:`ssmll.evaluation.experiment.run_oracle`).
ORACLES = {
    PROBE_ORACLE: (
        "linear probe on every training label, the unlabeled part's hidden ones included: "
        "reported only, never used to choose"
    ),
    SUPERVISED_ORACLE: (
        "the supervised variant on every training label, the unlabeled part's hidden ones included: "
        "reported only, never used to choose"
    ),
}


def all_labels_probe(train: FeatureSet, c: float) -> Scorer:
    """The :data:`PROBE_ORACLE`: a linear probe on the global embeddings and every label of the training pool."""
    probe = linear_probe(train.global_array(), train.y, c=c)
    return lambda feats, rows: probe(feats.global_array(rows))


def evaluation_scorers(
    train: FeatureSet,
    labeled: np.ndarray,
    text: np.ndarray,
    models: dict[str, torch.nn.Module],
    model_cfg: ModelConfig,
    probe_c: float,
) -> dict[str, Scorer]:
    """What the evaluate stage scores, in its order: the baselines, the probe oracle, then the trained ``models``.

    ``labeled`` are the rows of ``train`` the linear probe learns from; the label-specific
    read-out attends as ``model_cfg``'s untrained model does.
    """
    baselines = baseline_scorers(train, labeled, text, model_cfg, probe_c)
    oracle = all_labels_probe(train, probe_c)
    return {**baselines, PROBE_ORACLE: oracle, **{name: model_scorer(model) for name, model in models.items()}}


def score_variants(
    scorers: dict[str, Scorer], test: FeatureSet, train: FeatureSet, labeled: np.ndarray, priors: np.ndarray
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Each variant's test scores, and its class-wise thresholds by the bundle's rule (:data:`THRESHOLD_RULE`)."""
    scores = {name: f(test, None) for name, f in scorers.items()}
    thresholds = {name: _thresholds(f, train, labeled, priors) for name, f in scorers.items()}
    return scores, thresholds


def _thresholds(f: Scorer, train: FeatureSet, labeled: np.ndarray, priors: np.ndarray) -> np.ndarray:
    return decision_thresholds(lambda rows: f(train, rows), labeled, priors)


#: What each variant's metrics file holds: the numbers the papers compare, few enough that ``dvc metrics show``
#: and ``dvc exp show`` stay readable. Precision and recall (CP, CR, OP, OR) go to the report. The tail mAP
#: (:data:`~ssmll.evaluation.metrics.TAIL_KEY`) follows them where the labeled part has rare classes.
HEADLINE = ("mAP", "CF1", "OF1")

TAIL_POLICY = (
    f"{TAIL_KEY}: mAP over the classes under {TAIL_PREVALENCE:.0%} of the labeled part (tail_classes) that have "
    "test positives; left out of the metrics files when there are none"
)


def variant_results(
    y: np.ndarray, scores: dict[str, np.ndarray], thresholds: dict[str, np.ndarray], tail: np.ndarray | None = None
) -> dict[str, dict[str, float]]:
    """Each variant's mAP and F1 family (CP, CR, CF1, OP, OR, OF1), decided at its own thresholds.

    With the mask ``tail`` of rare classes, also their mAP where it has a value.
    """
    return {name: evaluation(y, s, apply_thresholds(s, thresholds[name]), tail) for name, s in scores.items()}


def headline(result: dict[str, float]) -> dict[str, float]:
    """One variant's metrics file (:data:`HEADLINE`, then the tail mAP when the result has one)."""
    return {k: result[k] for k in (*HEADLINE, TAIL_KEY) if k in result}


def report(
    y: np.ndarray, results: dict[str, dict[str, float]], classes: list[str], tail: np.ndarray | None = None
) -> dict[str, Any]:
    """The evaluate stage's plain report: how the metrics were computed, and each variant's precision and recall.

    ``tail`` (a mask over ``classes``) names the classes the tail mAP is over: the report says
    which, even when none is rare and the metrics files have no tail mAP.
    """
    tail = np.zeros(len(classes), dtype=bool) if tail is None else np.asarray(tail, dtype=bool)
    return {
        "test_images": int(len(y)),
        "classes_excluded_from_mAP": classes_without_positives(y, classes),
        "mAP_policy": MAP_POLICY,
        "tail_classes": [c for c, rare in zip(classes, tail) if rare],
        "tail_policy": TAIL_POLICY,
        "threshold_rule": THRESHOLD_RULE,
        "precision_and_recall": {
            name: {k: v for k, v in r.items() if k not in (*HEADLINE, TAIL_KEY)} for name, r in results.items()
        },
    }


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
