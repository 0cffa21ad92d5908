"""ssmll.pretrain.corpus, scans and shapes: pretraining pairs are honest, varied and disjoint from the scenes."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ssmll.core.errors import UserError
from ssmll.data.scenes import shapes
from ssmll.data.scenes.scans import pretraining_scans, scene_scans
from ssmll.data.scenes.vocabulary import vocabulary
from ssmll.pretrain.corpus import CorpusConfig, build_corpus, caption, join_names, render_image

SMALL = CorpusConfig(images=40, val_images=10)


def _scan_bytes(pool) -> set[bytes]:
    return {s.tobytes() for scans in pool.values() for s in scans}


def test_pretraining_scans_are_never_scene_scans():
    pre, scenes = _scan_bytes(pretraining_scans()), _scan_bytes(scene_scans())
    assert pre and scenes and not pre & scenes
    assert all(len(pretraining_scans()[d]) > 0 for d in range(10))


def test_pretraining_looks_are_never_scene_looks_and_every_shape_has_both():
    pre, scenes = shapes.pretraining_looks(), shapes.scene_looks()
    assert not _scan_bytes(pre) & _scan_bytes(scenes)
    assert all(len(pre[k]) and len(scenes[k]) for k in range(len(shapes.SHAPE_NAMES)))


def test_a_look_is_a_pure_function_of_class_and_index_and_looks_differ():
    a, b = shapes.draw_look("star", 5), shapes.draw_look("star", 5)
    assert a.shape == (shapes.MASK_SIZE, shapes.MASK_SIZE) and np.array_equal(a, b)
    assert 0.0 <= a.min() and a.max() <= 1.0 and a.max() > 0.9  # a drawn shape, not a blank mask
    assert not np.array_equal(a, shapes.draw_look("star", 6))


def test_the_objects_corpus_names_shapes_and_digits_from_its_own_looks():
    train, _ = build_corpus(dataclasses.replace(SMALL, vocabulary="objects", images=80))
    names = vocabulary("objects").names
    assert len(names) == 30 and any(max(d) >= 10 for d in train.labels)
    text, named = caption(np.random.default_rng(0), frozenset({12}), SMALL, vocabulary("objects"))
    assert names[12] in text and named == {12}


def test_same_config_renders_the_same_corpus_and_another_seed_another():
    (a, va), (b, vb) = build_corpus(SMALL), build_corpus(SMALL)
    assert np.array_equal(a.pixels, b.pixels) and a.labels == b.labels and np.array_equal(va.pixels, vb.pixels)
    c, _ = build_corpus(dataclasses.replace(SMALL, seed=1))
    assert not np.array_equal(a.pixels, c.pixels)


def test_images_hold_between_min_and_max_distinct_objects():
    train, val = build_corpus(dataclasses.replace(SMALL, images=60, min_objects=2, max_objects=3))
    assert train.pixels.shape == (60, 64, 64, 3) and train.pixels.dtype == np.uint8
    assert {len(d) for d in train.labels + val.labels} == {2, 3}


def test_a_caption_names_only_digits_present_and_says_them():
    cfg = dataclasses.replace(SMALL, numeral_prob=0.0)
    rng = np.random.default_rng(0)
    words = {1: "one", 4: "four", 7: "seven"}
    named_sets = set()
    for _ in range(200):
        text, named = caption(rng, frozenset(words), cfg, vocabulary("digits"))
        assert named and named <= set(words)
        assert all((words[d] in text) == (d in named) for d in words)
        named_sets.add(named)
    assert frozenset({1, 4, 7}) in named_sets and any(len(n) == 1 for n in named_sets)


def test_numerals_replace_words_at_the_configured_rate():
    rng = np.random.default_rng(0)
    cfg = dataclasses.replace(SMALL, numeral_prob=1.0)
    texts = [caption(rng, frozenset({3}), cfg, vocabulary("digits"))[0] for _ in range(20)]
    assert all("3" in t and "three" not in t for t in texts)


def test_names_are_joined_as_a_sentence_would():
    assert join_names(["one"]) == "one"
    assert join_names(["one", "two"]) == "one and two"
    assert join_names(["one", "two", "three"]) == "one, two and three"


def test_digits_are_drawn_where_the_image_says():
    rng = np.random.default_rng(3)
    img, digits = render_image(rng, pretraining_scans(), dataclasses.replace(SMALL, min_objects=1, max_objects=1))
    assert len(digits) == 1 and img.std() > 5  # a digit on a gradient, not a blank canvas


@pytest.mark.parametrize(
    "change, message",
    [
        ({"images": 0}, "images"),
        ({"min_objects": 3, "max_objects": 2}, "min_objects <= max_objects"),
        ({"val_fraction_of_scans": 1.0}, "val_fraction_of_scans"),
        ({"min_side": 40}, "min_side"),
        ({"subset_prob": 2.0}, "subset_prob"),
        ({"templates": ("no slot",)}, "templates"),
        ({"vocabulary": "letters"}, "unknown vocabulary"),
        ({"max_objects": 11}, "max_objects <= 10"),
    ],
)
def test_impossible_settings_are_user_errors(change, message):
    with pytest.raises(UserError, match=message):
        build_corpus(dataclasses.replace(SMALL, **change))
