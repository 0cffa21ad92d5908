"""The training variants and their rules: which train params each uses, and how.

``method`` trains semi-supervised with every train param and the ``pseudo`` params.
``supervised``, the baseline the method must beat, trains the same model on the same
schedule from the labeled part alone, with the classification loss alone: no unlabeled
images (so neither ``unlabeled_weight`` nor the pseudo-label params apply) and no
context task (``context_weight`` 0). The train stage and the studies (through
:mod:`ssmll.evaluation.experiment`) train a variant with :func:`train_variant`, and
dvc.yaml's train stages list exactly :func:`tracked_params` (a test checks it); a bundle
records the :func:`train_params` it was trained with.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from ssmll.core.errors import UserError
from ssmll.method.featureset import FeatureSet
from ssmll.method.model import ModelConfig
from ssmll.method.pseudo import PseudoConfig
from ssmll.method.trainer import TrainConfig, Trainer, TrainResult

#: Train params that only act on the unlabeled part.
UNLABELED_ONLY = ("unlabeled_weight", "unlabeled_full_skill", "batch_mix")


@dataclass(frozen=True)
class Variant:
    semi: bool  # learns from pseudo-labels of the unlabeled part (and so reads the pseudo params)
    fixed: dict[str, Any] = field(default_factory=dict)  # train params the variant sets itself


VARIANTS = {
    "method": Variant(semi=True),
    "supervised": Variant(semi=False, fixed={"context_weight": 0.0}),
}


def variant(name: str) -> Variant:
    if name not in VARIANTS:
        raise UserError(f"unknown training variant {name!r}; choose one of {', '.join(VARIANTS)}")
    return VARIANTS[name]


def variant_trainer(
    name: str,
    train: FeatureSet,
    labeled: np.ndarray,
    text: torch.Tensor,
    membership: np.ndarray,
    priors: np.ndarray,
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    pseudo: PseudoConfig = PseudoConfig(),
) -> Trainer:
    """The training run of variant ``name``: ``cfg`` with the variant's own settings."""
    v = variant(name)
    cfg = dataclasses.replace(cfg, **v.fixed)
    return Trainer(train, labeled, text, membership, priors, model_cfg, cfg, pseudo, semi=v.semi)


@dataclass
class LabeledPart:
    """What a training run knows of the training pool's labels: which rows are labeled, their priors, the contexts."""

    labeled: np.ndarray  # (N,) bool
    priors: np.ndarray  # (C,) class frequencies of the labeled rows
    membership: np.ndarray  # (C, K) each class's context


def train_variant(
    name: str,
    train: FeatureSet,
    text: np.ndarray,
    part: LabeledPart,
    model_cfg: ModelConfig,
    cfg: TrainConfig,
    pseudo: PseudoConfig = PseudoConfig(),
    test: FeatureSet | None = None,
    log: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Variant ``name`` trained on ``part``; ``test`` is looked at only when ``cfg.select_on_test`` asks for it."""
    trainer = variant_trainer(
        name, train, part.labeled, torch.from_numpy(text), part.membership, part.priors, model_cfg, cfg, pseudo
    )
    return trainer.fit(test=test if cfg.select_on_test else None, log=log)


def train_params(name: str) -> list[str]:
    """The train params that change what variant ``name`` learns, in TrainConfig order."""
    v = variant(name)
    unused = set(v.fixed) | (set() if v.semi else set(UNLABELED_ONLY))
    return [f.name for f in dataclasses.fields(TrainConfig) if f.name not in unused]


def tracked_params(name: str) -> list[str]:
    """What dvc.yaml's stage of variant ``name`` lists under ``params``: whole sections where it reads all."""
    used = train_params(name)
    train = ["train"] if used == [f.name for f in dataclasses.fields(TrainConfig)] else [f"train.{k}" for k in used]
    return ["model", *train, *(["pseudo"] if variant(name).semi else [])]
