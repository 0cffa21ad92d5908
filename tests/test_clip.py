"""ssmll.encoding.clip: loading weights offline first, and the dense image encoder."""

from __future__ import annotations

import time

import open_clip
import pytest
import torch
import torch.nn.functional as F

from ssmll.core.errors import UserError
from ssmll.encoding.clip import (
    DenseImageEncoder,
    cached_weights,
    encode_prompts,
    load_clip,
    vit_local_path,
    zoomed_crops,
)

#: A tag with downloadable weights; the tests need it to be absent from the local caches.
TAG_MODEL, TAG = "ViT-B-32", "openai"


def _features(clip, images: torch.Tensor, tokens: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode():
        return clip.model.encode_image(images), clip.model.encode_text(tokens)


def test_unknown_architecture_is_a_user_error():
    with pytest.raises(UserError, match="unknown CLIP architecture 'ViT-X-99'"):
        load_clip("ViT-X-99", "none")


def test_seed_fixes_random_weights():
    first, again = load_clip("ViT-S-32", "none", seed=0), load_clip("ViT-S-32", "none", seed=0)
    other = load_clip("ViT-S-32", "none", seed=1)
    w = "visual.conv1.weight"
    assert torch.equal(first.model.state_dict()[w], again.model.state_dict()[w])
    assert not torch.equal(first.model.state_dict()[w], other.model.state_dict()[w])


def test_checkpoint_file_reproduces_the_saved_model(tmp_path):
    saved = load_clip("ViT-S-32", "none", seed=7)
    path = tmp_path / "ckpt.pt"
    torch.save(saved.model.state_dict(), path)
    loaded = load_clip("ViT-S-32", str(path), seed=8)
    unloaded = load_clip("ViT-S-32", "none", seed=8)

    images = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(0))
    tokens = saved.tokenizer(["a photo of the number seven.", "a picture of the digit one."])
    want_img, want_txt = _features(saved, images, tokens)
    got_img, got_txt = _features(loaded, images, tokens)
    torch.testing.assert_close(got_img, want_img, rtol=0, atol=0)
    torch.testing.assert_close(got_txt, want_txt, rtol=0, atol=0)
    assert not torch.allclose(_features(unloaded, images, tokens)[0], want_img)


def test_missing_checkpoint_file_is_a_user_error(tmp_path):
    with pytest.raises(UserError, match="checkpoint .*missing.pt not found"):
        load_clip("ViT-S-32", str(tmp_path / "missing.pt"))


@pytest.mark.parametrize("content", [b"not a checkpoint", None])
def test_unusable_checkpoint_file_is_a_user_error(tmp_path, content):
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"unrelated.weight": torch.zeros(1)}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(UserError, match="cannot load clip.pretrained=.*bad.pt into ViT-S-32"):
        load_clip("ViT-S-32", str(path))


def test_unknown_tag_lists_the_alternatives():
    with pytest.raises(UserError, match="no pretrained tag 'nosuchtag'.*local checkpoint path, or none"):
        load_clip(TAG_MODEL, "nosuchtag")


@pytest.fixture
def uncached_tag() -> None:
    if cached_weights(open_clip.get_pretrained_cfg(TAG_MODEL, TAG)):
        pytest.skip(f"{TAG_MODEL}/{TAG} weights are in the local cache on this machine")


def _assert_fails_fast_with_the_way_out() -> str:
    start = time.monotonic()
    with pytest.raises(UserError) as info:
        load_clip(TAG_MODEL, TAG)
    assert time.monotonic() - start < 10
    message = str(info.value)
    assert "not in the local cache" in message
    assert "checkpoint" in message and "none" in message
    return message


def test_uncached_tag_offline_fails_fast(uncached_tag, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    _assert_fails_fast_with_the_way_out()


def test_uncached_tag_with_unreachable_host_fails_fast(uncached_tag, monkeypatch):
    """The real connection probe, pointed at a local port where nothing listens."""
    for switch in ("HF_HUB_OFFLINE", "SSMLL_OFFLINE"):
        monkeypatch.delenv(switch, raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "https://127.0.0.1")
    assert "127.0.0.1 cannot be reached" in _assert_fails_fast_with_the_way_out()


def _vit_tokens_reference(visual: torch.nn.Module, x: torch.Tensor, grid: int) -> torch.Tensor:
    """Local embeddings from open_clip's own forward: its output tokens, projected and pooled."""
    visual.output_tokens = True
    try:
        _, tokens = visual(x)
    finally:
        visual.output_tokens = False
    projected = tokens @ visual.proj
    side = int(projected.shape[1] ** 0.5)
    fmap = projected.transpose(1, 2).reshape(len(x), -1, side, side)
    return F.normalize(F.adaptive_avg_pool2d(fmap, grid).flatten(2).transpose(1, 2), dim=-1)


def test_vit_dense_encoder_matches_open_clip(tiny_clip):
    x = torch.randn(2, 3, *tiny_clip.preprocess_cfg["size"], generator=torch.Generator().manual_seed(1))
    encoder = DenseImageEncoder(tiny_clip.model.visual, grid=2)
    with torch.inference_mode():
        pooled, local = encoder(x)
        torch.testing.assert_close(pooled, F.normalize(tiny_clip.model.encode_image(x), dim=-1))
        torch.testing.assert_close(local, _vit_tokens_reference(tiny_clip.model.visual, x, 2))
    assert local.shape == (2, 4, tiny_clip.dim)


def _value_path_reference(visual, x, grid):
    """MaskCLIP's dense features: the last block's value embedding, output projection, final norm, projection."""
    h = visual._embeds(x)
    for block in visual.transformer.resblocks[:-1]:
        h = block(h)
    last = visual.transformer.resblocks[-1]
    q, k, v = F.linear(last.ln_1(h), last.attn.in_proj_weight, last.attn.in_proj_bias).chunk(3, dim=-1)
    tokens = visual.ln_post(last.attn.out_proj(v))[:, 1:] @ visual.proj
    side = int(tokens.shape[1] ** 0.5)
    fmap = tokens.transpose(1, 2).reshape(len(x), -1, side, side)
    return F.normalize(F.adaptive_avg_pool2d(fmap, grid).flatten(2).transpose(1, 2), dim=-1)


def test_vit_value_path_is_maskclips_and_keeps_the_global_embedding(tiny_clip):
    x = torch.randn(2, 3, *tiny_clip.preprocess_cfg["size"], generator=torch.Generator().manual_seed(1))
    block, value = (DenseImageEncoder(tiny_clip.model.visual, grid=2, vit_local=p) for p in ("block", "value"))
    with torch.inference_mode():
        (g_block, l_block), (g_value, l_value) = block(x), value(x)
        torch.testing.assert_close(l_value, _value_path_reference(tiny_clip.model.visual, x, 2))
    assert torch.equal(g_block, g_value)
    assert not torch.allclose(l_block, l_value)
    assert vit_local_path(value.local_tokens) == "value" and vit_local_path(block.local_tokens) == "block"
    with pytest.raises(UserError, match="extract.vit_local"):
        DenseImageEncoder(tiny_clip.model.visual, grid=2, vit_local="keys")


def test_resnet_dense_encoder_global_matches_open_clip():
    torch.manual_seed(0)
    model = open_clip.create_model("RN50", force_image_size=64).eval()
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        pooled, local = DenseImageEncoder(model.visual, grid=2)(x)
        torch.testing.assert_close(pooled, F.normalize(model.encode_image(x), dim=-1))
    assert local.shape == (2, 4, 1024)
    torch.testing.assert_close(local.norm(dim=-1), torch.ones(2, 4))


def test_zoomed_crops_are_the_quadrants_in_reading_order_crop_major():
    """2 x 2 crops of side 0.5 are the quadrants; all images' first crop comes before any second one."""
    quadrant_values = torch.tensor([[1.0, 2.0], [3.0, 4.0]])
    x = torch.stack([quadrant_values, 10 * quadrant_values]).repeat_interleave(4, 1).repeat_interleave(4, 2)
    crops = zoomed_crops(x[:, None].expand(-1, 3, -1, -1), 2, 0.5)  # 2 images, 3 channels, 8 x 8
    assert crops.shape == (8, 3, 8, 8)
    firsts = crops[:, 0].flatten(1)
    torch.testing.assert_close(firsts.amin(1), firsts.amax(1))  # each crop one quadrant's constant
    assert firsts[:, 0].tolist() == [1, 10, 2, 20, 3, 30, 4, 40]


def test_one_crop_of_the_whole_side_is_the_image_itself():
    x = torch.randn(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(zoomed_crops(x, 1, 1.0), x)


def test_crop_tokens_are_clips_embeddings_of_the_zoomed_crops(tiny_clip):
    x = torch.randn(2, 3, *tiny_clip.preprocess_cfg["size"], generator=torch.Generator().manual_seed(1))
    encoder = DenseImageEncoder(tiny_clip.model.visual, grid=2, crops=2, crop_size=0.5)
    with torch.inference_mode():
        pooled, local = encoder(x)
        torch.testing.assert_close(pooled, F.normalize(tiny_clip.model.encode_image(x), dim=-1))
        for i, crop in enumerate(zoomed_crops(x, 2, 0.5).unflatten(0, (4, 2))):
            torch.testing.assert_close(local[:, i], F.normalize(tiny_clip.model.encode_image(crop), dim=-1))
    assert local.shape == (2, 4, tiny_clip.dim)
    assert encoder.local_tokens.startswith("crops: 2 x 2") and vit_local_path(encoder.local_tokens) == "block"


def test_dense_encoder_rejects_other_towers():
    with pytest.raises(UserError, match="ViT or ModifiedResNet"):
        DenseImageEncoder(torch.nn.Linear(2, 2), grid=2)


def test_prompt_embeddings_are_one_unit_vector_per_class(tiny_clip):
    text = encode_prompts(tiny_clip, ["one", "two", "three"], ["a photo of {}.", "the digit {}."])
    assert text.shape == (3, tiny_clip.dim)
    torch.testing.assert_close(text.norm(dim=-1), torch.ones(3))
    single = encode_prompts(tiny_clip, ["one"], ["a photo of {}."])
    assert not torch.allclose(single[0], text[0])


@pytest.mark.parametrize("templates", [[], ["a photo without a slot"]])
def test_templates_need_a_slot(tiny_clip, templates):
    with pytest.raises(UserError, match="extract.templates"):
        encode_prompts(tiny_clip, ["one"], templates)
