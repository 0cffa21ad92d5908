"""Losses against their formulas, and the registry that builds them by name."""

from types import SimpleNamespace

import torch
import torch.nn.functional as F

from ssmll.losses import LOSSES, AsymmetricLoss, BinaryCrossEntropy


def reference_asl(x, y, gn, gp, clip):
    p = torch.sigmoid(x)
    pm = (p - clip).clamp(min=0)
    loss = -(y * (1 - p) ** gp * torch.log(p) + (1 - y) * pm**gn * torch.log(1 - pm))
    return loss.sum() / x.shape[0]


def test_asymmetric_loss_matches_its_formula():
    torch.manual_seed(0)
    x, y = torch.randn(7, 5), (torch.rand(7, 5) > 0.6).float()
    for gn, gp, clip in [(4, 0, 0.05), (2, 1, 0.0), (0, 0, 0.2)]:
        assert torch.allclose(AsymmetricLoss(gn, gp, clip)(x, y), reference_asl(x, y, gn, gp, clip), atol=1e-6)


def test_asymmetric_loss_without_focusing_or_clip_is_bce():
    torch.manual_seed(1)
    x, y = torch.randn(6, 4), (torch.rand(6, 4) > 0.5).float()
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="sum") / 6
    assert torch.allclose(AsymmetricLoss(0, 0, 0)(x, y), bce, atol=1e-5)
    assert torch.allclose(BinaryCrossEntropy()(x, y), bce, atol=1e-6)


def test_clip_zeroes_the_loss_of_easy_negatives():
    x = torch.tensor([[-5.0]])  # p ~ 0.0067 < clip
    assert AsymmetricLoss(4, 0, 0.05)(x, torch.zeros(1, 1)).item() == 0.0


def test_mask_removes_entries_from_the_loss():
    torch.manual_seed(2)
    x, y = torch.randn(4, 3), (torch.rand(4, 3) > 0.5).float()
    mask = torch.zeros(4, 3)
    mask[:, 0] = 1
    for loss in (AsymmetricLoss(), BinaryCrossEntropy()):
        assert torch.allclose(loss(x, y, mask), loss(x[:, :1], y[:, :1]))


def test_the_registry_builds_each_loss_from_the_train_params():
    params = SimpleNamespace(gamma_neg=2.0, gamma_pos=1.0, clip=0.1)
    asl = LOSSES["asl"](params)
    assert (asl.gamma_neg, asl.gamma_pos, asl.clip) == (2.0, 1.0, 0.1)
    assert isinstance(LOSSES["bce"](params), BinaryCrossEntropy)
