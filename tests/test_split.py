"""ssmll.data.split: the SSMLL protocol, RandomState(seed).permutation(n) with the first part labeled."""

from __future__ import annotations

import numpy as np
import pytest

from ssmll.core.errors import UserError
from ssmll.data.split import class_priors, labeled_split, read_labeled_split, write_labeled_split

IDS = [f"img_{i:03d}" for i in range(200)]


@pytest.mark.parametrize("lb_ratio, seed", [(0.05, 1), (0.1, 1), (0.15, 0), (0.2, 42), (0.333, 7)])
def test_labeled_images_are_the_head_of_the_seeded_permutation(lb_ratio, seed):
    split = labeled_split(IDS, lb_ratio, seed)
    head = np.random.RandomState(seed).permutation(len(IDS))[: int(lb_ratio * len(IDS))]
    assert set(np.flatnonzero(split.labeled)) == set(head)
    assert split.image_ids == IDS


def test_seed_changes_the_labeled_part():
    a, b = labeled_split(IDS, 0.1, 1), labeled_split(IDS, 0.1, 2)
    assert not np.array_equal(a.labeled, b.labeled)


def test_ratio_one_labels_everything():
    assert labeled_split(IDS, 1.0, 0).labeled.all()


@pytest.mark.parametrize("lb_ratio", [0.0, 1.5, -0.1, float("nan")])
def test_ratio_outside_zero_one_is_a_user_error(lb_ratio):
    with pytest.raises(UserError, match=r"split.lb_ratio=.* is outside \(0, 1\]"):
        labeled_split(IDS, lb_ratio, 0)


def test_ratio_that_labels_no_image_is_a_user_error():
    with pytest.raises(UserError, match="labels none; raise split.lb_ratio"):
        labeled_split(IDS[:10], 0.05, 0)


def test_split_table_has_one_row_per_image():
    table = labeled_split(IDS, 0.1, 1).table()
    assert table.column_names == ["image_id", "labeled"]
    assert table.column("image_id").to_pylist() == IDS
    assert sum(table.column("labeled").to_pylist()) == 20


def test_priors_are_class_frequencies_of_the_labeled_part():
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0]], dtype=np.float32)
    np.testing.assert_allclose(class_priors(y), [0.75, 0.5, 0.0])
    np.testing.assert_array_equal(class_priors(y[:0]), [0.0, 0.0, 0.0])


def test_written_split_reads_back_and_must_match_the_prepared_data(tmp_path):
    split = labeled_split(IDS, 0.1, 1)
    write_labeled_split(tmp_path / "split", split, ["a", "b"], np.array([0.25, 0.0]))
    got = read_labeled_split(tmp_path / "split", IDS, ["a", "b"])
    np.testing.assert_array_equal(got.labeled, split.labeled)
    np.testing.assert_array_equal(got.priors, [0.25, 0.0])
    for ids, classes in ((IDS[:-1], ["a", "b"]), (IDS, ["a", "c"])):
        with pytest.raises(UserError, match="made from other prepared data; re-run the split stage"):
            read_labeled_split(tmp_path / "split", ids, classes)
    with pytest.raises(UserError, match="run the split stage first"):
        read_labeled_split(tmp_path / "nowhere", IDS, ["a", "b"])
