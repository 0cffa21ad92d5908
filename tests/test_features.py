"""ssmll.encoding.store: cached features read back as written, in shards whose bytes ignore runtime knobs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from tiny_params import TINY, repo_params

import ssmll.encoding.store
from ssmll.core.errors import UserError
from ssmll.core.runtime import Runtime
from ssmll.data.tables import make_table
from ssmll.encoding.clip import DenseImageEncoder
from ssmll.encoding.extraction import encode_table
from ssmll.encoding.staging import Group, Staging, encode_missing
from ssmll.encoding.store import read_image_features
from ssmll.encoding.views import ViewConfig, ViewMaker

SUBSET = 20
SHARD = 7


def test_image_features_read_back_in_table_order(tiny):
    feats = read_image_features(tiny.features, "train")
    n, views, dim = TINY["data.objects.n_train"], TINY["extract.views"], tiny.clip.dim
    assert feats.image_ids == tiny.dataset.tables["train"].column("image_id").to_pylist()
    assert feats.global_.shape == (n, views, dim)
    assert feats.local.shape == (n, views, repo_params()["extract"]["crops"] ** 2, dim)
    assert feats.global_.dtype == np.float16
    np.testing.assert_allclose(np.linalg.norm(feats.global_.astype(np.float32), axis=-1), 1.0, atol=2e-3)
    assert not np.array_equal(feats.global_[:, 0], feats.global_[:, 1])


def test_views_argument_keeps_the_first_views(tiny):
    all_views = read_image_features(tiny.features, "train")
    first = read_image_features(tiny.features, "train", views=1)
    np.testing.assert_array_equal(first.global_, all_views.global_[:, :1])
    np.testing.assert_array_equal(first.local, all_views.local[:, :1])


@pytest.fixture(scope="module")
def sharded(tiny, tmp_path_factory) -> dict[str, Path]:
    """The first test images extracted twice as the stage does, small shards: batch 7, 2 workers; batch 32, none."""
    table = tiny.dataset.tables["test"].slice(0, SUBSET)
    ext = repo_params()["extract"]
    encoder = DenseImageEncoder(
        tiny.clip.model.visual, TINY["extract.grid"], crops=ext["crops"], crop_size=ext["crop_size"]
    )
    encoder.eval()
    views = ViewMaker(tiny.clip.preprocess_cfg, ViewConfig(views=1))
    root = tmp_path_factory.mktemp("sharded")
    runs = {"batch7_workers2": Runtime("cpu", 7, 2, False), "batch32_workers0": Runtime("cpu", 32, 0, False)}
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(ssmll.encoding.store, "SHARD_IMAGES", SHARD)
        for name, rt in runs.items():
            staging = Staging(root / name, "key")
            encode_missing({"test": table}, {"test": views}, encoder, rt, staging, Group())
            staging.publish()
    return {name: root / name / "test" for name in runs}


def test_shards_hold_a_fixed_number_of_images(sharded):
    for out in sharded.values():
        files = sorted(out.iterdir())
        assert [f.name for f in files] == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
        assert [pq.read_metadata(f).num_rows for f in files] == [SHARD, SHARD, SUBSET - 2 * SHARD]


def test_batch_size_and_workers_do_not_change_the_bytes(sharded):
    a, b = sharded.values()
    for name in ("part-00000.parquet", "part-00001.parquet", "part-00002.parquet"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name


def test_sharded_subset_equals_the_features_of_the_whole_table(sharded, tiny):
    """An image's features do not depend on which images share its batch."""
    out = sharded["batch7_workers2"]
    subset = read_image_features(out.parent, out.name)
    whole = read_image_features(tiny.features, "test")
    assert subset.image_ids == whole.image_ids[:SUBSET]
    np.testing.assert_array_equal(subset.global_, whole.global_[:SUBSET])
    np.testing.assert_array_equal(subset.local, whole.local[:SUBSET])


def test_unreadable_image_is_a_user_error_naming_it(tiny):
    table = make_table(
        ["good", "zz_broken"], [[0], [1]], images=[tiny.dataset.tables["test"].column("image")[0].as_py(), b"junk"]
    )
    encoder = DenseImageEncoder(tiny.clip.model.visual, 2).eval()
    views = ViewMaker(tiny.clip.preprocess_cfg, ViewConfig(views=1))
    with pytest.raises(UserError, match="zz_broken: cannot decode image"):
        list(encode_table(table, encoder, views, Runtime("cpu", 4, 0, False)))


def test_reading_before_extract_names_the_stage_to_run(tmp_path):
    with pytest.raises(UserError, match="run the extract stage first"):
        read_image_features(tmp_path, "train")


@pytest.mark.parametrize("read_rows", [1, 5, 64])
@pytest.mark.parametrize("views", [None, 2])
def test_reading_in_batches_that_straddle_images_and_shards_gives_every_row(tmp_path, monkeypatch, read_rows, views):
    """Shards of 4, 4 and 3 images with 3 views each, read a few rows at a time."""
    rng = np.random.default_rng(0)
    ids = [f"im{i:02d}" for i in range(11)]
    g, loc = rng.standard_normal((11, 3, 8)).astype(np.float16), rng.standard_normal((11, 3, 4, 8)).astype(np.float16)
    (tmp_path / "train").mkdir()
    for index, rows in enumerate([range(0, 4), range(4, 8), range(8, 11)]):
        part = slice(rows.start, rows.stop)
        ssmll.encoding.store.write_shard(
            tmp_path / "train" / ssmll.encoding.store.shard_name(index), ids[part], g[part], loc[part]
        )
    monkeypatch.setattr(ssmll.encoding.store, "READ_ROWS", read_rows)
    feats = read_image_features(tmp_path, "train", views=views)
    keep = 3 if views is None else views
    assert feats.image_ids == ids
    np.testing.assert_array_equal(feats.global_, g[:, :keep])
    np.testing.assert_array_equal(feats.local, loc[:, :keep])


def test_a_shard_without_every_view_of_its_images_names_the_stage_to_rerun(tmp_path):
    (tmp_path / "train").mkdir()
    g, loc = np.zeros((2, 3, 8), np.float16), np.zeros((2, 3, 4, 8), np.float16)
    ssmll.encoding.store.write_shard(tmp_path / "train" / "part-00000.parquet", ["a", "b"], g, loc)
    table = pq.read_table(tmp_path / "train" / "part-00000.parquet").slice(0, 5)
    pq.write_table(table, tmp_path / "train" / "part-00000.parquet")
    with pytest.raises(UserError, match="does not hold 3 views per image; re-run the extract stage"):
        read_image_features(tmp_path, "train")
