"""ssmll.encoding.staging: what keys the staged shards, and how a staging directory starts, resumes and ends."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch

from ssmll.encoding.staging import Shard, Staging, extraction_key, plan, staging_root
from ssmll.encoding.store import read_image_features

PARAMS = {"clip": {"model": "ViT-S-32"}, "extract": {"views": 2, "seed": 0}}


@pytest.fixture
def table_file(tmp_path) -> Path:
    path = tmp_path / "train.parquet"
    path.write_bytes(b"prepared table bytes")
    return path


def key(table: Path, params=PARAMS, model: torch.nn.Module | None = None, device: str = "cpu") -> str:
    torch.manual_seed(0)
    return extraction_key(params, [table], model or torch.nn.Linear(3, 2), device)


def test_the_key_follows_params_tables_weights_and_device_kind(table_file):
    base = key(table_file)
    assert key(table_file) == base
    assert key(table_file, {**PARAMS, "extract": {"views": 3, "seed": 0}}) != base
    assert key(table_file, device="cuda:1") != base and key(table_file, device="cuda:1") == key(
        table_file, device="cuda:0"
    )
    torch.manual_seed(1)
    assert key(table_file, model=torch.nn.Linear(3, 2)) != base
    table_file.write_bytes(b"prepared table bytes, re-prepared")
    assert key(table_file) != base


def test_plan_cuts_every_split_into_fixed_shards(monkeypatch):
    monkeypatch.setattr("ssmll.encoding.store.SHARD_IMAGES", 4)
    tables = {"train": pa.table({"x": range(10)}), "test": pa.table({"x": range(4)})}
    shards = plan(tables)
    assert [(s.split, s.index, list(s.rows)) for s in shards] == [
        ("train", 0, [0, 1, 2, 3]),
        ("train", 1, [4, 5, 6, 7]),
        ("train", 2, [8, 9]),
        ("test", 0, [0, 1, 2, 3]),
    ]
    assert shards[1].path == "train/part-00001.parquet"


def staged_shard(staging: Staging, shard: Shard) -> None:
    n = len(shard.rows)
    g = np.ones((n, 1, 4), np.float16)
    staging.write(shard, [f"img{i}" for i in shard.rows], g, np.ones((n, 1, 2, 4), np.float16))


def test_a_new_key_starts_afresh_and_the_same_key_keeps_its_complete_shards(tmp_path):
    out = tmp_path / "data" / "features"
    shards = [Shard("train", 0, range(0, 2)), Shard("train", 1, range(2, 3))]
    old = Staging(out, "oldkey")
    old.open(["train"])
    staged_shard(old, shards[0])
    (old.dir / "train" / ".part-00001.parquet.x.tmp").write_bytes(b"half written")  # a kill mid-write
    same = Staging(out, "oldkey")
    same.open(["train"])
    assert same.missing(shards) == shards[1:]
    assert sorted(p.name for p in (same.dir / "train").iterdir()) == ["part-00000.parquet"]
    new = Staging(out, "newkey")
    new.open(["train"])
    assert [p.name for p in staging_root(out).iterdir()] == ["newkey"]
    assert new.missing(shards) == shards


def test_publish_moves_the_shards_onto_the_output_and_leaves_no_staging(tmp_path):
    out = tmp_path / "features"
    out.mkdir()
    (out / "stale.txt").write_text("from an older run")
    staging = Staging(out, "k")
    staging.open(["train"])
    for shard in plan({"train": pa.table({"x": range(3)})}):
        staged_shard(staging, shard)
    staging.publish()
    assert sorted(p.name for p in out.iterdir()) == ["train"]
    assert read_image_features(out, "train").image_ids == ["img0", "img1", "img2"]
    assert not staging_root(out).exists()


def test_discard_removes_the_staging(tmp_path):
    staging = Staging(tmp_path / "features", "k")
    staging.open(["train", "test"])
    staging.discard()
    assert list(tmp_path.iterdir()) == []
