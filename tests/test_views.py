"""ssmll.encoding.views: each view is a pure function of (seed, image id, view index)."""

from __future__ import annotations

import pytest
import torch
from open_clip.transform import PreprocessCfg, image_transform_v2
from PIL import Image
from torchvision import transforms as T

from ssmll.core.errors import UserError
from ssmll.data.images import open_rgb
from ssmll.encoding.views import ViewConfig, ViewMaker, view_seed


@pytest.fixture(scope="module")
def maker(tiny_clip) -> ViewMaker:
    return ViewMaker(tiny_clip.preprocess_cfg, ViewConfig(views=3, hflip=0.5))


@pytest.fixture(scope="module")
def image(tiny_scenes) -> Image.Image:
    return open_rgb(data=tiny_scenes.tables["train"].column("image")[0].as_py())


def test_views_have_the_model_input_shape(maker, image, tiny_clip):
    assert maker(image, "a").shape == (3, 3, *tiny_clip.preprocess_cfg["size"])


def test_same_image_id_and_view_give_the_same_pixels(maker, image):
    assert torch.equal(maker(image, "a"), maker(image, "a"))


def test_strong_views_differ_between_views_and_image_ids(maker, image):
    views_a, views_b = maker(image, "a"), maker(image, "b")
    assert not torch.equal(views_a[1], views_a[2])
    assert not torch.equal(views_a[1], views_b[1])
    assert torch.equal(views_a[0], views_b[0])


def test_views_do_not_depend_on_call_order_or_global_rng(maker, image):
    alone = maker(image, "a")
    torch.manual_seed(123)
    maker(image, "b")
    torch.rand(10)
    assert torch.equal(maker(image, "a"), alone)


def test_making_views_leaves_the_global_rng_alone(maker, image):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    maker(image, "a")
    assert torch.equal(torch.rand(3), expected)


def test_view_zero_is_the_whole_image_resized_as_cap_does(maker, tiny_clip):
    """A wide image keeps its sides in view 0 (no centre crop), as in every training view."""
    wide = Image.new("RGB", (300, 100), (0, 0, 255))
    wide.paste((255, 0, 0), (0, 0, 30, 100))  # a red strip along the left edge
    view = maker(wide, "a")[0]
    mean, std = (torch.tensor(tiny_clip.preprocess_cfg[k])[:, None] for k in ("mean", "std"))
    left, right = view[:, :, 0].mean(-1, keepdim=True) * std + mean, view[:, :, -1].mean(-1, keepdim=True) * std + mean
    assert left[0] > 0.9 and left[2] < 0.1  # red: the edge a centre crop of the shortest side would drop
    assert right[2] > 0.9 and right[0] < 0.1
    size = tiny_clip.preprocess_cfg["size"]
    expected = T.Compose(
        [T.Resize(size, interpolation=T.InterpolationMode.BICUBIC), T.ToTensor(), T.Normalize(mean[:, 0], std[:, 0])]
    )
    assert torch.equal(view, expected(wide))


def test_view_zero_of_a_square_image_is_open_clips_eval_transform(maker, image, tiny_clip):
    preprocess_val = image_transform_v2(PreprocessCfg(**tiny_clip.preprocess_cfg), is_train=False)
    assert torch.equal(maker(image, "a")[0], preprocess_val(image))


def test_seed_changes_strong_views(tiny_clip, image):
    other = ViewMaker(tiny_clip.preprocess_cfg, ViewConfig(views=2, seed=1))
    same = ViewMaker(tiny_clip.preprocess_cfg, ViewConfig(views=2, seed=0))
    assert not torch.equal(other(image, "a")[1], same(image, "a")[1])


def test_view_seeds_are_distinct_and_fit_torch():
    seeds = {view_seed(s, i, v) for s in (0, 1) for i in ("a", "b", "train_000001") for v in range(1, 4)}
    assert len(seeds) == 2 * 3 * 3
    assert all(0 <= s < 2**63 for s in seeds)


@pytest.mark.parametrize(
    "cfg, message",
    [
        (ViewConfig(views=0), "extract.views"),
        (ViewConfig(crop_scale=(0.0, 1.0)), "extract.crop_scale"),
        (ViewConfig(crop_scale=(0.8, 0.5)), "extract.crop_scale"),
        (ViewConfig(hflip=1.5), "extract.hflip"),
        (ViewConfig(jitter=-0.1), "extract.jitter"),
    ],
)
def test_invalid_view_settings_are_user_errors(cfg, message):
    with pytest.raises(UserError, match=message):
        cfg.validate()
