"""A variant trained and scored for a labeled ratio, split seed and params, as the pipeline's stages would.

The train stage takes its labeled part from the split and contexts stages' files; the
studies (``studies/method_table.py``) compute it in memory for any labeled ratio, split
seed and held-out fold (:func:`labeled_rows`, :func:`labeled_part`), as those stages
would, and train with the train stage's :func:`~ssmll.method.variants.train_variant`
(:func:`run_variant`), so that a study's number is the pipeline's. :func:`run_oracle`
scores the oracles of :data:`~ssmll.evaluation.scoring.ORACLES`, which learn every training
label (the unlabeled part's hidden ones too): reported, never used to choose. Each score
carries the tail mAP as the evaluate stage computes it, its rare classes taken from the
labeled part's priors (for an oracle, the whole pool's).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ssmll.core.config import from_params
from ssmll.data.split import class_priors, labeled_split
from ssmll.evaluation.metrics import mean_ap, tail_classes, tail_map
from ssmll.evaluation.scoring import (
    ORACLES,
    PROBE_ORACLE,
    SUPERVISED_ORACLE,
    EvaluateConfig,
    Scorer,
    all_labels_probe,
    baseline_scorers,
    model_scorer,
)
from ssmll.evaluation.workspace import Workspace
from ssmll.method.contexts import ContextsConfig, find_contexts
from ssmll.method.featureset import FeatureSet
from ssmll.method.model import ModelConfig
from ssmll.method.pseudo import PseudoConfig
from ssmll.method.trainer import TrainConfig, TrainResult
from ssmll.method.variants import LabeledPart, train_variant

#: Folds of the labeled part when settings are chosen by cross-validation on it (:func:`labeled_rows`).
FOLDS = 3

#: The params sections :class:`Settings` holds, and their configs.
SECTIONS = {
    "model": ModelConfig,
    "train": TrainConfig,
    "pseudo": PseudoConfig,
    "contexts": ContextsConfig,
    "evaluate": EvaluateConfig,
}


@dataclass(frozen=True)
class Settings:
    """The params sections a variant's training and scoring read, each its validated config."""

    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    pseudo: PseudoConfig = field(default_factory=PseudoConfig)
    contexts: ContextsConfig = field(default_factory=ContextsConfig)
    evaluate: EvaluateConfig = field(default_factory=EvaluateConfig)

    @classmethod
    def from_params(cls, params: Mapping[str, Any]) -> Settings:
        """Every section of :data:`SECTIONS` from a params mapping (a loaded ``params.yaml``), each validated."""
        return cls(**{name: from_params(config, params.get(name), name) for name, config in SECTIONS.items()})


@dataclass(frozen=True)
class VariantScore:
    """A variant's mAP and tail mAP (None: no rare class), with its pseudo-labels' precision and recall at the last
    epoch if it learns from them."""

    mAP: float
    pseudo_precision: float | None = None
    pseudo_recall: float | None = None
    tail_mAP: float | None = None


def labeled_rows(
    train_ids: list[str], ratio: float, seed: int, fold: int | None = None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The split stage's labeled rows for ``ratio`` and ``seed``, and the held-out rows of ``fold`` (None: none).

    A held-out fold of the labeled images (one of :data:`FOLDS`, seeded by ``seed``) has its
    labels hidden: its images join the unlabeled part, so that settings can be chosen on
    the labeled part alone.
    """
    labeled = labeled_split(train_ids, ratio, seed).labeled
    if fold is None:
        return labeled, None
    held_out = np.array_split(np.random.RandomState(seed).permutation(np.flatnonzero(labeled)), FOLDS)[fold]
    labeled = labeled.copy()
    labeled[held_out] = False
    return labeled, held_out


def labeled_part(ws: Workspace, labeled: np.ndarray, cfg: ContextsConfig) -> LabeledPart:
    """What the split and contexts stages compute for the rows ``labeled``: priors and contexts of their labels."""
    y = ws.train.y[labeled]
    ctx = find_contexts(y, ws.text, cfg.k, cfg.smoothing, cfg.seed)
    return LabeledPart(labeled, class_priors(y), ctx.membership())


def run_variant(
    name: str, ws: Workspace, ratio: float, seed: int, settings: Settings, fold: int | None = None
) -> VariantScore:
    """Variant ``name`` trained for a labeled ratio and split seed, and its mAP on the test set (or on ``fold``).

    With ``fold``, the held-out labeled images are scored instead of the test set (:func:`labeled_rows`).
    """
    labeled, held_out = labeled_rows(ws.train_ids, ratio, seed, fold)
    part = labeled_part(ws, labeled, settings.contexts)
    result = _train(name, ws, part, settings, ws.test if fold is None else None)
    last = result.history[-1]
    m, tail = _maps(model_scorer(result.model), ws, held_out, part.priors)
    return VariantScore(m, last.get("pseudo_precision"), last.get("pseudo_recall"), tail)


def _train(name: str, ws: Workspace, part: LabeledPart, s: Settings, test: FeatureSet | None) -> TrainResult:
    return train_variant(name, ws.train, ws.text, part, s.model, s.train, s.pseudo, test)


def run_baselines(
    ws: Workspace, ratio: float, seed: int, settings: Settings, fold: int | None = None
) -> dict[str, VariantScore]:
    """The baselines for a labeled ratio and split seed (a ``fold`` held out), scored as :func:`run_variant` scores."""
    labeled, held_out = labeled_rows(ws.train_ids, ratio, seed, fold)
    scorers = baseline_scorers(
        ws.train, np.flatnonzero(labeled), ws.text, settings.model, settings.evaluate.linear_probe_c
    )
    priors = class_priors(ws.train.y[labeled])
    return {name: _score(f, ws, held_out, priors) for name, f in scorers.items()}


def _maps(scorer: Scorer, ws: Workspace, held_out: np.ndarray | None, priors: np.ndarray) -> tuple[float, float | None]:
    """mAP and tail mAP (rare classes by ``priors``) on the test set, or on the held-out training rows."""
    feats, rows = (ws.test, None) if held_out is None else (ws.train, held_out)
    y, scores = feats.y if rows is None else feats.y[rows], scorer(feats, rows)
    return mean_ap(y, scores), tail_map(y, scores, tail_classes(priors))


def _score(scorer: Scorer, ws: Workspace, held_out: np.ndarray | None, priors: np.ndarray) -> VariantScore:
    m, tail = _maps(scorer, ws, held_out, priors)
    return VariantScore(m, tail_mAP=tail)


def run_oracle(name: str, ws: Workspace, settings: Settings) -> VariantScore:
    """The test mAP of oracle ``name`` (:data:`ORACLES`): what labels on the whole pool could reach at most."""
    priors = class_priors(ws.train.y)
    if name == PROBE_ORACLE:
        return _score(all_labels_probe(ws.train, settings.evaluate.linear_probe_c), ws, None, priors)
    if name != SUPERVISED_ORACLE:
        raise ValueError(f"unknown oracle {name!r}; one of {', '.join(ORACLES)}")
    part = labeled_part(ws, np.ones(len(ws.train), dtype=bool), settings.contexts)
    return _score(model_scorer(_train("supervised", ws, part, settings, ws.test).model), ws, None, priors)
