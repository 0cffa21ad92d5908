"""ssmll.data.scenes.digits: the embedded digit scenes are deterministic, honest and validated."""

from __future__ import annotations

import dataclasses
import hashlib
import io

import numpy as np
import pytest
from PIL import Image

from ssmll.core.errors import UserError
from ssmll.data.scenes.digits import CLASS_NAMES, DigitScenesConfig, _split_scans, build, class_weights, draw_digits

SMALL = DigitScenesConfig(n_train=12, n_test=6, image_size=64)


def test_tables_have_the_configured_sizes_and_decodable_images():
    ds = build(SMALL)
    assert ds.classes == CLASS_NAMES
    assert {split: t.num_rows for split, t in ds.tables.items()} == {"train": 12, "test": 6}
    img = Image.open(io.BytesIO(ds.tables["test"].column("image")[0].as_py()))
    assert (img.mode, img.size) == ("RGB", (64, 64))


def test_train_and_test_scenes_use_disjoint_source_scans():
    pools = _split_scans(SMALL)
    for digit in range(10):
        train = {scan.tobytes() for scan in pools["train"][digit]}
        test = {scan.tobytes() for scan in pools["test"][digit]}
        assert train and test
        assert not train & test, f"digit {digit}: a scan is in both pools"


@pytest.mark.parametrize("count", [1, 3, 4])
def test_each_scene_has_as_many_distinct_labels_as_digits_drawn(count):
    cfg = dataclasses.replace(SMALL, min_digits=count, max_digits=count)
    labels = build(cfg).tables["train"].column("labels").to_pylist()
    assert all(len(x) == count for x in labels)


def test_label_counts_stay_within_min_and_max():
    cfg = dataclasses.replace(SMALL, n_train=40, min_digits=2, max_digits=3)
    counts = {len(x) for x in build(cfg).tables["train"].column("labels").to_pylist()}
    assert counts == {2, 3}


def test_with_in_group_probability_one_a_scene_stays_in_one_group():
    cfg = dataclasses.replace(SMALL, max_digits=3, in_group_prob=1.0)
    groups = [set(g) for g in cfg.groups]
    for i in range(200):
        digits = set(draw_digits(np.random.default_rng(i), cfg))
        assert any(digits <= g for g in groups), digits


@pytest.mark.parametrize(
    "change, message",
    [
        ({"min_digits": 3, "max_digits": 2}, "min_digits <= max_digits"),
        ({"max_digits": 10}, "max_digits <= 9"),
        ({"groups": [[0, 1, 2], [2, 3]]}, "distinct digits"),
        ({"groups": [[0, 10]]}, "distinct digits"),
        ({"groups": [[0, 1], []]}, "non-empty"),
        ({"groups": []}, "non-empty"),
        ({"in_group_prob": 1.5}, "in_group_prob"),
        ({"n_test": 0}, "n_train and n_test"),
        ({"image_size": 16}, "image_size"),
        ({"test_fraction_of_scans": 1.0}, "test_fraction_of_scans"),
        ({"class_skew": -1.0}, "class_skew"),
    ],
)
def test_impossible_settings_are_user_errors(change, message):
    with pytest.raises(UserError, match=message):
        build(dataclasses.replace(SMALL, **change))


def frequencies(cfg: DigitScenesConfig, n: int = 2000) -> np.ndarray:
    counts = np.zeros(10)
    for i in range(n):
        counts[draw_digits(np.random.default_rng([0, 0, i]), cfg)] += 1
    return counts / n


def test_class_skew_makes_a_long_tail_in_its_seeded_order():
    skewed = DigitScenesConfig(class_skew=3.0)
    freq, order = frequencies(skewed), np.argsort(-class_weights(skewed))
    assert freq[order[0]] > 0.8 and freq[order[-1]] < 0.1 and freq.min() < 0.05
    assert frequencies(DigitScenesConfig()).min() > 0.2  # balanced without skew


def test_no_skew_draws_as_before():
    """class_skew 0 keeps the balanced scenes byte for byte: the first draws as the code drew them before the param."""
    got = [draw_digits(np.random.default_rng([0, 0, i]), DigitScenesConfig()) for i in range(6)]
    assert got == [[7, 8, 9], [9, 8], [2, 3, 1], [8, 2, 7, 9], [3, 2, 0, 1], [9, 5, 7, 8]]


def test_layout_draws_as_before():
    """The shared grid layout (ssmll.data.scenes.layout) keeps the digit scenes' pixels: the first train scenes
    decode to the pixels the code drew before the layout was shared with the object scenes."""
    digest = hashlib.sha256()
    for png in build(SMALL).tables["train"].column("image").to_pylist()[:4]:
        digest.update(np.asarray(Image.open(io.BytesIO(png))).tobytes())
    assert digest.hexdigest() == "b0a67be9c98cfb2aa9ae291aadba49a782ecd42a77ca271aee5d7d603c0f3f3d"
