"""Both embedded scene sources (ssmll.data.scenes.digits and .objects): the same config gives the same bytes."""

from __future__ import annotations

import dataclasses

import pytest

from ssmll.data.scenes import digits, objects

SOURCES = {
    "digits": (digits.build, digits.DigitScenesConfig(n_train=12, n_test=6, image_size=64)),
    "objects": (objects.build, objects.ObjectScenesConfig(n_train=12, n_test=6)),
}


@pytest.mark.parametrize("source", SOURCES)
def test_same_config_gives_identical_tables(source):
    build, small = SOURCES[source]
    a, b = build(small), build(small)
    for split in ("train", "test"):
        assert a.tables[split].equals(b.tables[split])


@pytest.mark.parametrize("source", SOURCES)
def test_seed_changes_the_images(source):
    build, small = SOURCES[source]
    a = build(small)
    b = build(dataclasses.replace(small, seed=1))
    assert a.tables["train"].column("image").to_pylist() != b.tables["train"].column("image").to_pylist()
