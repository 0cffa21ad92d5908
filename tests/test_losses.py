"""Losses against their formulas, and the registry that builds them by name."""

from types import SimpleNamespace

import torch
import torch.nn.functional as F

from ssmll.method.losses import LOSSES, AsymmetricLoss, BinaryCrossEntropy


def reference_asl(x, y, gn, gp, clip):
    p = torch.sigmoid(x)
    pm = (p - clip).clamp(min=0)
    loss = -(y * (1 - p) ** gp * torch.log(p) + (1 - y) * pm**gn * torch.log(1 - pm))
    return loss.sum(-1)


def test_asymmetric_loss_matches_its_formula():
    torch.manual_seed(0)
    x, y = torch.randn(7, 5), (torch.rand(7, 5) > 0.6).float()
    for gn, gp, clip in [(4, 0, 0.05), (2, 1, 0.0), (0, 0, 0.2)]:
        assert torch.allclose(AsymmetricLoss(gn, gp, clip)(x, y), reference_asl(x, y, gn, gp, clip), atol=1e-6)


def test_asymmetric_loss_without_focusing_or_clip_is_bce():
    torch.manual_seed(1)
    x, y = torch.randn(6, 4), (torch.rand(6, 4) > 0.5).float()
    bce = F.binary_cross_entropy_with_logits(x, y, reduction="none").sum(-1)
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


def test_losses_are_one_sum_per_image():
    x, y = torch.randn(5, 3), (torch.rand(5, 3) > 0.5).float()
    for loss in (AsymmetricLoss(), BinaryCrossEntropy()):
        per_image = loss(x, y)
        assert per_image.shape == (5,)
        assert torch.allclose(per_image[2], loss(x[2:3], y[2:3])[0])


def reference_asl_detached(x, y, gn, gp, clip):
    """CAP's ASL with disable_torch_grad_focal_loss=True: the focusing weight is a constant."""
    p = torch.sigmoid(x)
    xs_neg = (1 - p + clip).clamp(max=1)
    loss = y * torch.log(p) + (1 - y) * torch.log(xs_neg)
    with torch.no_grad():
        pt = p * y + xs_neg * (1 - y)
        w = torch.pow(1 - pt, gp * y + gn * (1 - y))
    return -(loss * w).sum(-1)


def test_no_gradient_flows_through_the_focusing_weight_by_default():
    torch.manual_seed(3)
    y = (torch.rand(6, 4) > 0.5).float()
    x = torch.randn(6, 4, requires_grad=True)
    (grad,) = torch.autograd.grad(AsymmetricLoss(4, 1, 0.05)(x, y).sum(), x)
    (expected,) = torch.autograd.grad(reference_asl_detached(x, y, 4, 1, 0.05).sum(), x)
    assert torch.allclose(grad, expected, atol=1e-6)
    (through,) = torch.autograd.grad(AsymmetricLoss(4, 1, 0.05, focal_grad=True)(x, y).sum(), x)
    assert not torch.allclose(through, expected, atol=1e-3)  # the other choice, kept as a param
    assert torch.allclose(AsymmetricLoss(4, 1, 0.05)(x, y), AsymmetricLoss(4, 1, 0.05, focal_grad=True)(x, y))


def test_the_registry_builds_each_loss_from_the_train_params():
    params = SimpleNamespace(gamma_neg=2.0, gamma_pos=1.0, clip=0.1, focal_grad=True)
    asl = LOSSES["asl"](params)
    assert (asl.gamma_neg, asl.gamma_pos, asl.clip, asl.focal_grad) == (2.0, 1.0, 0.1, True)
    assert isinstance(LOSSES["bce"](params), BinaryCrossEntropy)
