"""Multi-label losses on logits, with an optional per-entry mask for pseudo-labels.

Asymmetric loss (Ridnik et al., 2021): negatives use a probability shifted down by
``clip`` and focused by ``gamma_neg``; positives are focused by ``gamma_pos``. With
gammas 0 and clip 0 it equals binary cross-entropy.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def asymmetric_loss(
    logits: torch.Tensor,
    targets: torch.Tensor,
    mask: torch.Tensor | None = None,
    gamma_neg: float = 4.0,
    gamma_pos: float = 0.0,
    clip: float = 0.05,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Sum over classes, mean over images, of the (masked) asymmetric loss."""
    p = torch.sigmoid(logits)
    p_neg = (p - clip).clamp(min=0) if clip > 0 else p
    pos = targets * torch.log(p.clamp(min=eps)) * (1 - p).pow(gamma_pos)
    neg = (1 - targets) * torch.log((1 - p_neg).clamp(min=eps)) * p_neg.pow(gamma_neg)
    return _reduce(-(pos + neg), mask)


def bce_loss(logits: torch.Tensor, targets: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    return _reduce(F.binary_cross_entropy_with_logits(logits, targets, reduction="none"), mask)


def _reduce(loss: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    if mask is not None:
        loss = loss * mask
    return loss.sum() / max(loss.shape[0], 1)
