"""The workspace: earlier stages' outputs read back together, and checked to belong together."""

import shutil

import numpy as np
import pytest
from tiny_params import TINY

from ssmll.core.errors import UserError
from ssmll.core.files import write_parquet
from ssmll.data.split import labeled_split, write_labeled_split
from ssmll.evaluation.workspace import load_workspace


@pytest.fixture
def split_dir(tmp_path, tiny):
    ids = tiny.dataset.tables["train"].column("image_id").to_pylist()
    write_labeled_split(
        tmp_path / "split", labeled_split(ids, 0.5, 0), tiny.dataset.classes, np.full(len(tiny.dataset.classes), 0.1)
    )
    return tmp_path / "split"


def test_workspace_holds_both_splits_aligned_with_their_labels(tiny, split_dir):
    ws = load_workspace(tiny.prepared, tiny.features, split_dir)
    n, m = TINY["data.objects.n_train"], TINY["data.objects.n_test"]
    assert ws.train.global_.shape[:2] == (n, TINY["extract.views"]) and ws.test.global_.shape[:2] == (m, 1)
    assert ws.train.y.shape == (n, len(tiny.dataset.classes)) and ws.labeled.sum() == n // 2
    first = tiny.dataset.tables["train"].column("labels")[0].as_py()
    assert np.flatnonzero(ws.train.y[0]).tolist() == first
    assert ws.encoder.grid == TINY["extract.grid"] and ws.prompt_names == tiny.dataset.prompt_names


def test_features_of_other_images_ask_for_a_new_extract(tmp_path, tiny, split_dir):
    prepared = tmp_path / "prepared"
    shutil.copytree(tiny.prepared, prepared)
    table = tiny.dataset.tables["test"]
    write_parquet(table.slice(1), prepared / "test.parquet")
    with pytest.raises(UserError, match="re-run the extract stage"):
        load_workspace(prepared, tiny.features, split_dir)
