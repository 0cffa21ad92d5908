"""Multi-label losses on logits, per image, with an optional per-entry mask for pseudo-labels.

Asymmetric loss (Ridnik et al., 2021): negatives use a probability shifted down by
``clip`` and focused by ``gamma_neg``; positives are focused by ``gamma_pos``. With
gammas 0 and clip 0 it equals binary cross-entropy. As in CAP's reference
(``disable_torch_grad_focal_loss=True``), no gradient flows through the focusing weight
unless ``focal_grad`` asks for it. Each loss returns one value per image (the sum over
its classes), so that the trainer can weigh every image alike, whichever part it comes
from. :data:`LOSSES` builds each by its ``train.loss`` name.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn


class AsymmetricLoss(nn.Module):
    def __init__(
        self,
        gamma_neg: float = 4.0,
        gamma_pos: float = 0.0,
        clip: float = 0.05,
        eps: float = 1e-8,
        focal_grad: bool = False,
    ):
        super().__init__()
        self.gamma_neg, self.gamma_pos, self.clip, self.eps = gamma_neg, gamma_pos, clip, eps
        self.focal_grad = focal_grad

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        p = torch.sigmoid(logits)
        p_neg = (p - self.clip).clamp(min=0) if self.clip > 0 else p
        with torch.set_grad_enabled(self.focal_grad and torch.is_grad_enabled()):
            w_pos, w_neg = (1 - p).pow(self.gamma_pos), p_neg.pow(self.gamma_neg)
        pos = targets * torch.log(p.clamp(min=self.eps)) * w_pos
        neg = (1 - targets) * torch.log((1 - p_neg).clamp(min=self.eps)) * w_neg
        return _per_image(-(pos + neg), mask)


class BinaryCrossEntropy(nn.Module):
    def forward(self, logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return _per_image(F.binary_cross_entropy_with_logits(logits, targets, reduction="none"), mask)


def _per_image(loss: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """(B,) the sum over each image's (kept) entries."""
    if mask is not None:
        loss = loss * mask
    return loss.sum(-1)


class LossParams(Protocol):
    """The train params the losses read."""

    gamma_neg: float
    gamma_pos: float
    clip: float
    focal_grad: bool


LOSSES: dict[str, Callable[[LossParams], nn.Module]] = {
    "asl": lambda p: AsymmetricLoss(p.gamma_neg, p.gamma_pos, p.clip, focal_grad=p.focal_grad),
    "bce": lambda p: BinaryCrossEntropy(),
}
