"""ssmll.data.tables: the tables every source produces, their summary, and reading them back."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from ssmll.core.errors import UserError
from ssmll.data.tables import (
    SCHEMA,
    PreparedDataset,
    Skipped,
    make_table,
    multihot,
    read_class_groups,
    read_classes,
    read_split,
    summarize,
    write_prepared,
)

CLASSES = ["cat", "dog", "bird"]


def _dataset() -> PreparedDataset:
    train = make_table(["t2", "t1", "t3"], [[1, 0, 1], [2], []], images=[b"x", b"y", b"z"])
    test = make_table(["s1"], [[0]], paths=["/images/s1.jpg"])
    skipped = [Skipped("train", "t9", "missing: no such file", "/images/t9.jpg")]
    return PreparedDataset(CLASSES, ["a cat", "a dog", "a bird"], {"train": train, "test": test}, skipped)


def test_table_rows_are_sorted_by_id_with_unique_sorted_labels():
    table = _dataset().tables["train"]
    assert table.schema == SCHEMA
    assert table.column("image_id").to_pylist() == ["t1", "t2", "t3"]
    assert table.column("labels").to_pylist() == [[2], [0, 1], []]
    assert table.column("image").to_pylist() == [b"y", b"x", b"z"]


def test_duplicate_image_ids_are_a_user_error():
    with pytest.raises(UserError, match="duplicate image ids: a"):
        make_table(["a", "b", "a"], [[0], [1], [2]])


def test_multihot_from_lists_and_from_arrow_agree():
    table = _dataset().tables["train"]
    expected = np.array([[0, 0, 1], [1, 1, 0], [0, 0, 0]], dtype=np.float32)
    np.testing.assert_array_equal(multihot(table.column("labels"), 3), expected)
    np.testing.assert_array_equal(multihot([[2], [0, 1], []], 3), expected)


def test_summary_counts_images_labels_and_skipped_files():
    summary = summarize(_dataset())
    train = summary["splits"]["train"]
    assert train["images"] == 3
    assert train["images_without_labels"] == 1
    assert train["label_cardinality"] == 1.0
    assert train["class_frequency"] == {"cat": 1, "dog": 1, "bird": 1}
    assert train["skipped"] == 1
    assert summary["skipped"]["total"] == 1
    assert summary["skipped"]["by_reason"] == {"missing": 1}


def test_written_dataset_reads_back(tmp_path):
    ds = _dataset()
    write_prepared(ds, tmp_path / "prepared")
    assert read_split(tmp_path / "prepared", "train").equals(ds.tables["train"])
    assert read_split(tmp_path / "prepared", "test").equals(ds.tables["test"])
    assert read_classes(tmp_path / "prepared") == (CLASSES, ["a cat", "a dog", "a bird"])
    assert read_class_groups(tmp_path / "prepared") is None
    assert (tmp_path / "prepared" / "skipped.csv").read_text().splitlines()[
        1
    ] == "train,t9,/images/t9.jpg,missing: no such file"


def test_known_class_groups_travel_with_the_classes(tmp_path):
    write_prepared(dataclasses.replace(_dataset(), groups=[[0, 2], [1]]), tmp_path / "prepared")
    assert read_class_groups(tmp_path / "prepared") == [[0, 2], [1]]


@pytest.mark.parametrize("read", [lambda d: read_split(d, "train"), read_classes])
def test_reading_before_prepare_names_the_stage_to_run(tmp_path, read):
    with pytest.raises(UserError, match="run the prepare stage first"):
        read(tmp_path)
