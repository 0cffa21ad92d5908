"""ssmll.pretrain.recipe and stages.pretrain_clip: a few steps, deterministic, saved as a loadable checkpoint."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path

import pytest
import torch
import yaml
from stage_runner import assert_fails_cleanly, invoke
from tiny_params import REPO

from ssmll.encoding.clip import load_clip
from ssmll.pretrain.corpus import CorpusConfig
from ssmll.pretrain.recipe import RecipeConfig, pretrain, save_weights
from stages import pretrain_clip

CORPUS = CorpusConfig(images=48, val_images=16)
RECIPE = RecipeConfig(steps=3, batch_size=16, eval_every=2)


def _state_bytes(model: torch.nn.Module) -> dict[str, bytes]:
    return {k: v.numpy().tobytes() for k, v in model.state_dict().items()}


def test_a_few_steps_give_the_same_weights_twice_and_move_them():
    a, b = pretrain(CORPUS, RECIPE), pretrain(CORPUS, RECIPE)
    assert _state_bytes(a.clip.model) == _state_bytes(b.clip.model)
    start = load_clip(RECIPE.arch, "none", seed=RECIPE.seed)
    assert _state_bytes(a.clip.model) != _state_bytes(start.model)
    assert [r["step"] for r in a.history] == [2, 3]
    assert {"loss_global", "loss_token", "val_zeroshot_mAP", "val_label_specific_mAP"} <= set(a.history[0])


def test_a_warm_start_begins_from_the_checkpoint_it_names(tmp_path):
    """recipe.init: the objects CLIP starts from the digit CLIP; zero steps of training would return it unchanged."""
    path = tmp_path / "start.safetensors"
    save_weights(load_clip(RECIPE.arch, "none", seed=5), path, {"arch": RECIPE.arch})
    warm = pretrain(CORPUS, dataclasses.replace(RECIPE, init=str(path), steps=1, eval_every=1, lr=1e-12)).clip
    start = load_clip(RECIPE.arch, str(path))
    for name, tensor in start.model.state_dict().items():
        assert torch.allclose(warm.model.state_dict()[name], tensor, atol=1e-6), name


def test_saved_fp16_weights_load_as_an_ordinary_checkpoint(tmp_path):
    trained = pretrain(CORPUS, RECIPE).clip
    path = tmp_path / "weights.safetensors"
    save_weights(trained, path, {"arch": RECIPE.arch})
    loaded = load_clip(RECIPE.arch, str(path))
    for name, tensor in trained.model.state_dict().items():
        assert torch.equal(loaded.model.state_dict()[name], tensor.half().float()), name


def test_saved_weights_have_the_same_bytes_every_time(tmp_path):
    """safetensors writes metadata in hash order (13 orders in 20 saves of four keys); ours is sorted."""
    model = load_clip(RECIPE.arch, "none", seed=RECIPE.seed)
    metadata = {"recipe": "params.yaml", "arch": RECIPE.arch, "a": "1", "z": "2"}
    blobs = set()
    for i in range(8):
        save_weights(model, tmp_path / f"w{i}.safetensors", metadata)
        blobs.add((tmp_path / f"w{i}.safetensors").read_bytes())
    assert len(blobs) == 1
    assert load_clip(RECIPE.arch, str(tmp_path / "w0.safetensors")).model is not None


def test_the_shipped_weights_are_what_save_weights_writes_of_them(tmp_path):
    """Rewriting the shipped tensors gives the shipped file, byte for byte: a rebuild can match its sha256."""
    shipped = REPO / "models/digit-clip/weights.safetensors"
    save_weights(
        load_clip(RECIPE.arch, str(shipped)),
        tmp_path / "w.safetensors",
        {"arch": RECIPE.arch, "recipe": "models/digit-clip/params.yaml"},
    )
    assert (tmp_path / "w.safetensors").read_bytes() == shipped.read_bytes()


def _recipe_params(directory: Path, **recipe) -> Path:
    """The shipped recipe's params, shrunk to seconds, with ``recipe`` overrides."""
    params = yaml.safe_load((REPO / "models/digit-clip/params.yaml").read_text())
    params["corpus"].update(images=32, val_images=8)
    params["recipe"].update({"steps": 2, "batch_size": 8, "eval_every": 1, "threads": 1, **recipe})
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path


@pytest.mark.slow
def test_stage_writes_weights_metrics_and_curves(tmp_path):
    out = tmp_path / "model"
    result = invoke(pretrain_clip.cli, "--params", str(_recipe_params(tmp_path)), "--out", str(out))
    assert result.exit_code == 0, result.output
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["sha256"] == hashlib.sha256((out / "weights.safetensors").read_bytes()).hexdigest()
    assert metrics["steps"] == 2 and 0 <= metrics["val_zeroshot_mAP"] <= 100
    assert (out / "curves.csv").read_text().splitlines()[0].startswith("step,")


def test_stage_rejects_unknown_and_impossible_params(tmp_path):
    out = tmp_path / "model"
    out.mkdir()
    params = _recipe_params(tmp_path, stpes=3)
    assert_fails_cleanly(pretrain_clip.cli, tmp_path, "recipe.stpes", args=("--params", str(params), "--out", str(out)))
    params = _recipe_params(tmp_path, threads=0)
    assert_fails_cleanly(
        pretrain_clip.cli, tmp_path, "recipe.threads", args=("--params", str(params), "--out", str(out))
    )
