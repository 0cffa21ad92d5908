"""The one encoder factory: what extract, predict, pretraining and the benchmarks build their encoder with."""

from __future__ import annotations

import torch

from ssmll.encoding.factory import create_encoder, dense_encoder, plain_views

ARCH = "ssmll-digits-ViT-8"  # the embedded CLIP's architecture: small, and known to open_clip through our configs


def test_create_encoder_is_seeded_and_ready_to_encode():
    clip, encoder = create_encoder(ARCH, "none", grid=4, seed=3)
    _, again = create_encoder(ARCH, "none", grid=4, seed=3)
    x = torch.zeros(2, 3, 64, 64)
    g, loc = encoder(x)
    assert not encoder.training
    assert g.shape == (2, clip.dim) and loc.shape == (2, 16, clip.dim)
    assert torch.equal(g, again(x)[0])


def test_dense_encoder_defaults_to_the_towers_own_patch_grid():
    clip, _ = create_encoder(ARCH, "none")
    side = int(clip.model.visual.grid_size[0])
    assert dense_encoder(clip).grid == side
    assert dense_encoder(clip, 2, "value").vit_local == "value"


def test_plain_views_make_one_view():
    clip, _ = create_encoder(ARCH, "none")
    assert plain_views(clip).cfg.views == 1
