"""ssmll.encoding.record: the encoder's record (meta.json) and the class text features, written and read
back; the encoder rebuilt from that record (ssmll.serving.predictor) gives the features extract wrote."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from tiny_params import TEMPLATES, TINY, repo_params

from ssmll.core.errors import UserError
from ssmll.core.runtime import Runtime
from ssmll.encoding.clip import encode_prompts
from ssmll.encoding.extraction import encode_table
from ssmll.encoding.record import (
    read_encoder_spec,
    read_text_features,
    sha256,
    write_encoding,
)
from ssmll.encoding.store import read_image_features
from ssmll.serving.predictor import encoder_from_spec


def test_text_features_read_back(tiny):
    expected = encode_prompts(tiny.clip, tiny.dataset.prompt_names, TEMPLATES).numpy().astype(np.float16)
    np.testing.assert_array_equal(read_text_features(tiny.features), expected)


def test_spec_records_the_encoder(tiny):
    spec = read_encoder_spec(tiny.features)
    clip = repo_params()["clip"]  # the embedded CLIP, a local checkpoint recorded with its hash
    assert (spec.model, spec.pretrained, spec.seed) == (clip["model"], clip["pretrained"], clip["seed"])
    assert spec.pretrained_sha256 == sha256(Path(clip["pretrained"]))
    extract = repo_params()["extract"]
    assert (spec.crops, spec.crop_size, spec.grid, spec.views, spec.dim, spec.templates) == (
        extract["crops"],
        extract["crop_size"],
        TINY["extract.grid"],
        TINY["extract.views"],
        tiny.clip.dim,
        tuple(TEMPLATES),
    )
    assert spec.preprocess["size"] == list(tiny.clip.preprocess_cfg["size"]) and spec.local_tokens.startswith("crops")


def test_the_rebuilt_encoder_gives_the_extracted_features(tiny):
    encoder, views = encoder_from_spec(read_encoder_spec(tiny.features))
    table = tiny.dataset.tables["test"].slice(0, 5)
    g, loc = next(encode_table(table, encoder, views, Runtime("cpu", 8, 0, False)))
    cached = read_image_features(tiny.features, "test")
    np.testing.assert_array_equal(g, cached.global_[:5])
    np.testing.assert_array_equal(loc, cached.local[:5])


@pytest.fixture(scope="module")
def checkpoint_spec(tiny, tmp_path_factory):
    """A features directory whose encoder's weights came from a checkpoint file."""
    root = tmp_path_factory.mktemp("ckpt")
    ckpt = root / "clip.pt"
    torch.save(tiny.clip.model.state_dict(), ckpt)
    spec = replace(read_encoder_spec(tiny.features), pretrained=str(ckpt), pretrained_sha256=sha256(ckpt))
    write_encoding(root, spec, tiny.dataset.classes, tiny.dataset.prompt_names, read_text_features(tiny.features))
    return root, ckpt


def test_a_checkpoint_is_found_by_path_or_given_elsewhere_and_checked(checkpoint_spec, tmp_path):
    root, ckpt = checkpoint_spec
    spec = read_encoder_spec(root)
    encoder_from_spec(spec)
    moved = shutil.copy(ckpt, tmp_path / "moved.pt")
    encoder_from_spec(spec, weights=str(moved))
    with pytest.raises(UserError, match="not found; pass the file the model was trained with"):
        encoder_from_spec(spec, weights=str(tmp_path / "nowhere.pt"))
    (tmp_path / "other.pt").write_bytes(b"other")
    with pytest.raises(UserError, match="is not the one the model was trained with"):
        encoder_from_spec(spec, weights=str(tmp_path / "other.pt"))


def test_reading_before_extract_names_the_stage_to_run(tmp_path):
    for read in (read_text_features, read_encoder_spec):
        with pytest.raises(UserError, match="run the extract stage first"):
            read(tmp_path)


def test_a_record_of_another_version_asks_for_a_new_extract(tmp_path):
    (tmp_path / "meta.json").write_text('{"model": "ViT-S-32"}')
    with pytest.raises(UserError, match="re-run the extract stage"):
        read_encoder_spec(tmp_path)
