"""Losses against their formulas."""

import torch
import torch.nn.functional as F

from ssmll.losses import asymmetric_loss, bce_loss


def reference_asl(x, y, gn, gp, clip):
    p = torch.sigmoid(x)
    pm = (p - clip).clamp(min=0)
    loss = -(y * (1 - p) ** gp * torch.log(p) + (1 - y) * pm**gn * torch.log(1 - pm))
    return loss.sum() / x.shape[0]


def test_asymmetric_loss_matches_its_formula():
    torch.manual_seed(0)
    x, y = torch.randn(7, 5), (torch.rand(7, 5) > 0.6).float()
    for gn, gp, clip in [(4, 0, 0.05), (2, 1, 0.0), (0, 0, 0.2)]:
        assert torch.allclose(asymmetric_loss(x, y, None, gn, gp, clip), reference_asl(x, y, gn, gp, clip), atol=1e-6)


def test_asymmetric_loss_without_focusing_or_clip_is_bce():
    torch.manual_seed(1)
    x, y = torch.randn(6, 4), (torch.rand(6, 4) > 0.5).float()
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="sum") / 6
    assert torch.allclose(asymmetric_loss(x, y, None, 0, 0, 0), bce, atol=1e-5)
    assert torch.allclose(bce_loss(x, y), bce, atol=1e-6)


def test_clip_zeroes_the_loss_of_easy_negatives():
    x = torch.tensor([[-5.0]])  # p ~ 0.0067 < clip
    assert asymmetric_loss(x, torch.zeros(1, 1), None, 4, 0, 0.05).item() == 0.0


def test_mask_removes_entries_from_the_loss():
    torch.manual_seed(2)
    x, y = torch.randn(4, 3), (torch.rand(4, 3) > 0.5).float()
    mask = torch.zeros(4, 3)
    mask[:, 0] = 1
    full = asymmetric_loss(x[:, :1], y[:, :1])
    assert torch.allclose(asymmetric_loss(x, y, mask), full)
    assert torch.allclose(bce_loss(x, y, mask), bce_loss(x[:, :1], y[:, :1]))
