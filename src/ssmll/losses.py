"""Multi-label losses on logits, with an optional per-entry mask for pseudo-labels.

Asymmetric loss (Ridnik et al., 2021): negatives use a probability shifted down by
``clip`` and focused by ``gamma_neg``; positives are focused by ``gamma_pos``. With
gammas 0 and clip 0 it equals binary cross-entropy. Both sum over classes and average
over images. :data:`LOSSES` builds each by its ``train.loss`` name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class AsymmetricLoss(nn.Module):
    def __init__(self, gamma_neg: float = 4.0, gamma_pos: float = 0.0, clip: float = 0.05, eps: float = 1e-8):
        super().__init__()
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        p = torch.sigmoid(logits)
        p_neg = (p - self.clip).clamp(min=0) if self.clip > 0 else p
        pos = targets * torch.log(p.clamp(min=self.eps)) * (1 - p).pow(self.gamma_pos)
        neg = (1 - targets) * torch.log((1 - p_neg).clamp(min=self.eps)) * p_neg.pow(self.gamma_neg)
        return _reduce(-(pos + neg), mask)


class BinaryCrossEntropy(nn.Module):
    def forward(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return _reduce(F.binary_cross_entropy_with_logits(logits, targets, reduction="none"), mask)


def _reduce(loss: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is not None:
        loss = loss * mask
    return loss.sum() / max(loss.shape[0], 1)


class LossParams(Protocol):
    """The train params the losses read."""

    gamma_neg: float
    gamma_pos: float
    clip: float


LOSSES: dict[str, Callable[[LossParams], nn.Module]] = {
    "asl": lambda p: AsymmetricLoss(p.gamma_neg, p.gamma_pos, p.clip),
    "bce": lambda p: BinaryCrossEntropy(),
}
