"""ssmll.pretrain.loss: multi-positive targets and the pair and token terms."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ssmll.pretrain.loss import sigmoid_pair_loss, soft_max_cosine, subset_targets


def test_a_caption_is_a_positive_for_every_image_holding_its_digits():
    images = [frozenset({3}), frozenset({3, 5}), frozenset({5, 7})]
    captions = [frozenset({3}), frozenset({3, 5}), frozenset({7})]
    want = torch.tensor([[1.0, 0.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert torch.equal(subset_targets(images, captions), want)


def test_pair_loss_is_summed_bce_per_image():
    logits = torch.tensor([[2.0, -1.0], [0.5, 3.0]])
    targets = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    want = F.binary_cross_entropy_with_logits(logits, targets, reduction="sum") / 2
    assert torch.allclose(sigmoid_pair_loss(logits, targets), want)
    assert sigmoid_pair_loss(10 * (2 * targets - 1), targets) < sigmoid_pair_loss(-10 * (2 * targets - 1), targets)


def test_soft_max_cosine_tracks_the_best_patch():
    text = F.normalize(torch.randn(2, 8), dim=-1)
    patches = F.normalize(torch.randn(1, 16, 8), dim=-1).clone()
    patches[0, 5] = text[0]  # one patch equals caption 0
    s = soft_max_cosine(patches, text, beta=50.0)
    assert s.shape == (1, 2)
    assert s[0, 0] > s[0, 1]
    assert abs(s[0, 0].item() - 1.0) < math.log(16) / 50 + 1e-6


def test_soft_max_cosine_of_uniform_patches_is_their_cosine():
    text = F.normalize(torch.randn(1, 8), dim=-1)
    patches = text.expand(1, 9, 8).clone()
    assert torch.allclose(soft_max_cosine(patches, text, beta=10.0), torch.ones(1, 1), atol=1e-6)
