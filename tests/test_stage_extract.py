"""The extract stage command: features of a few images, and each bad input as a one-line error."""

from __future__ import annotations

import hashlib
import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from stage_runner import assert_fails_cleanly, invoke
from tiny_params import TINY, repo_params

from ssmll.data.tables import PreparedDataset, make_table, write_prepared
from ssmll.encoding.record import read_text_features
from ssmll.encoding.store import read_image_features
from stages.extract import cli

RUNTIME = ("--workers", "0", "--device", "cpu", "--no-progress")
N_TRAIN, N_TEST = 5, 3


@pytest.fixture
def prepared_few(workdir, tiny):
    """A working directory with the first tiny images prepared; call with overrides to set params."""

    def setup(overrides: dict | None = None, broken_image: bool = False):
        root = workdir(overrides or {})
        tables = {split: tiny.dataset.tables[split].slice(0, n) for split, n in (("train", N_TRAIN), ("test", N_TEST))}
        if broken_image:  # met after the text features are written, so there is a half-made output to clean up
            tables["train"] = make_table(["train_broken"], [[1]], images=[b"\x89PNG truncated"])
        write_prepared(
            PreparedDataset(tiny.dataset.classes, tiny.dataset.prompt_names, tables), root / "data" / "prepared"
        )
        return root

    return setup


def test_extract_writes_features_text_and_meta(prepared_few, tiny, tmp_path_factory):
    """With a checkpoint of the session's model (and another seed) it reproduces the session's features."""
    ckpt = tmp_path_factory.mktemp("ckpt") / "model.pt"
    torch.save(tiny.clip.model.state_dict(), ckpt)
    root = prepared_few({"clip.pretrained": str(ckpt), "clip.seed": 5})
    result = invoke(cli, *RUNTIME)
    assert result.exit_code == 0, result.output
    out = root / "data" / "features"
    meta = json.loads((out / "meta.json").read_text())
    want = (repo_params()["clip"]["model"], str(ckpt), TINY["extract.grid"], TINY["extract.views"])
    assert (meta["model"], meta["pretrained"], meta["grid"], meta["views"]) == want
    assert meta["pretrained_sha256"] == hashlib.sha256(ckpt.read_bytes()).hexdigest()
    assert pq.read_metadata(out / "train" / "part-00000.parquet").num_rows == N_TRAIN * TINY["extract.views"]
    assert read_text_features(out).shape == (len(tiny.dataset.classes), tiny.clip.dim)
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        np.testing.assert_array_equal(
            read_image_features(out, split).local, read_image_features(tiny.features, split).local[:n]
        )


BAD = {
    "unknown_model": ({"clip.model": "ViT-X-99"}, "unknown CLIP architecture 'ViT-X-99'"),
    "missing_checkpoint": ({"clip.pretrained": "/nowhere/model.pt"}, "checkpoint /nowhere/model.pt not found"),
    "unknown_tag": ({"clip.pretrained": "openia"}, "no pretrained tag 'openia'"),
    "unknown_clip_key": ({"clip.modle": "RN50"}, "unknown param clip.modle"),
    "unknown_extract_key": ({"extract.view": 2}, "unknown param extract.view"),
    "no_views": ({"extract.views": 0}, "extract.views must be at least 1"),
    "no_grid": ({"extract.grid": 0}, "extract.grid must be at least 1"),
    "negative_crops": ({"extract.crops": -1}, "extract.crops must be 0 or more"),
    "crop_larger_than_image": ({"extract.crop_size": 1.5}, "extract.crop_size within (0, 1]"),
    "template_without_slot": ({"extract.templates": ["a photo"]}, "extract.templates"),
}


@pytest.fixture
def with_previous_features(prepared_few, tiny):
    """Prepared images and the features of an earlier valid run, which a failure must not touch."""

    def setup(overrides: dict | None = None, broken_image: bool = False):
        root = prepared_few(overrides or {}, broken_image)
        shutil.copytree(tiny.features, root / "data" / "features")
        return root

    return setup


@pytest.mark.parametrize("overrides, message", BAD.values(), ids=BAD.keys())
def test_bad_params_fail_with_one_line_and_leave_previous_features(with_previous_features, overrides, message):
    assert_fails_cleanly(cli, with_previous_features(overrides), message, args=RUNTIME)


def test_uncached_tag_offline_fails_with_the_way_out(with_previous_features, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    root = with_previous_features({"clip.model": "ViT-B-32", "clip.pretrained": "openai"})
    line = assert_fails_cleanly(cli, root, "not in the local cache", args=RUNTIME)
    assert "clip.pretrained to a local checkpoint file" in line and "none" in line


def test_image_that_fails_to_decode_leaves_no_partial_features(with_previous_features):
    root = with_previous_features(broken_image=True)
    assert_fails_cleanly(cli, root, "train_broken: cannot decode image", args=RUNTIME)


def test_missing_prepared_tables_name_the_stage_to_run(workdir):
    assert_fails_cleanly(cli, workdir(), "run the prepare stage first", args=RUNTIME)


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_device_without_cuda_is_a_user_error(prepared_few):
    args = ("--workers", "0", "--device", "cuda", "--no-progress")
    assert_fails_cleanly(cli, prepared_few(), "CUDA is not available here; use --device cpu", args=args)
