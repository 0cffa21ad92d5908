"""The shipped embedded CLIPs (models/objects-clip/, the default's, and models/digit-clip/, the digits preset's):
what they are, that they know their world, and that they are traceable."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from safetensors import safe_open
from tiny_params import REPO

from ssmll.core.config import from_params
from ssmll.core.runtime import Runtime
from ssmll.data.scenes import digits, objects
from ssmll.data.scenes.vocabulary import vocabulary
from ssmll.data.tables import multihot
from ssmll.encoding.clip import DenseImageEncoder, encode_prompts, load_clip
from ssmll.encoding.extraction import encode_table
from ssmll.encoding.views import ViewConfig, ViewMaker
from ssmll.encoding.zeroshot import zeroshot_scores
from ssmll.evaluation.average_precision import mean_ap
from ssmll.pretrain.corpus import CorpusConfig, build_corpus
from ssmll.pretrain.recipe import RecipeConfig, zero_shot

#: Per embedded CLIP: the preset whose scenes it encodes, and a few of those test scenes.
MODELS = {
    "objects-clip": ("objects", lambda: objects.build(objects.ObjectScenesConfig(n_train=1, n_test=300))),
    "digit-clip": ("digits", lambda: digits.build(digits.DigitScenesConfig(n_train=1, n_test=100))),
}


def _model(name: str) -> tuple[Path, dict, dict, dict]:
    """The model folder's weights, recorded metrics, recipe params, and its preset's clip and extract params."""
    folder = REPO / "models" / name
    preset = yaml.safe_load((REPO / "conf/data" / f"{MODELS[name][0]}.yaml").read_text())
    recorded = json.loads((folder / "metrics.json").read_text())
    return folder / "weights.safetensors", recorded, yaml.safe_load((folder / "params.yaml").read_text()), preset


def test_the_default_pipeline_loads_the_objects_checkpoint_as_a_user_checkpoint():
    clip = yaml.safe_load((REPO / "params.yaml").read_text())["clip"]
    weights, recorded, recipe, _ = _model("objects-clip")
    assert (REPO / clip["pretrained"]).resolve() == weights.resolve()
    assert clip["model"] == recipe["recipe"]["arch"] == recorded["arch"]


@pytest.mark.parametrize("name", MODELS)
def test_each_preset_loads_its_own_checkpoint(name):
    weights, recorded, recipe, preset = _model(name)
    assert (REPO / preset["clip"]["pretrained"]).resolve() == weights.resolve()
    assert preset["clip"]["model"] == recipe["recipe"]["arch"] == recorded["arch"]
    assert tuple(preset["extract"]["templates"]) == tuple(recipe["recipe"]["eval_templates"])


@pytest.mark.parametrize("name", MODELS)
def test_shipped_weights_are_small_fp16_and_those_the_metrics_describe(name):
    weights, recorded, _, _ = _model(name)
    assert weights.stat().st_size <= 25 * 2**20
    with safe_open(str(weights), "pt") as f:
        assert {str(f.get_slice(k).get_dtype()) for k in f.keys()} == {"F16"}
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == recorded["sha256"]


@pytest.mark.parametrize("name", MODELS)
def test_shipped_checkpoint_reproduces_its_recorded_zero_shot(name):
    """Through load_clip, as extract loads it, on the recipe's held-out validation images."""
    weights, recorded, params, _ = _model(name)
    recipe = from_params(RecipeConfig, params["recipe"], "recipe")
    corpus = from_params(CorpusConfig, params["corpus"], "corpus")
    clip = load_clip(recipe.arch, str(weights))
    _, val = build_corpus(dataclasses.replace(corpus, images=1))  # validation images do not depend on the training ones
    names = vocabulary(corpus.vocabulary).names
    got = zero_shot(clip, val, names, recipe.eval_templates, recipe.eval_attn_scale)
    assert got["zeroshot_mAP"] == pytest.approx(recorded["val_zeroshot_mAP"], abs=0.05)
    assert got["label_specific_mAP"] == pytest.approx(recorded["val_label_specific_mAP"], abs=0.05)


def _scene_zero_shot(clip, name: str, templates: list[str]) -> float:
    """Zero-shot mAP on the preset's first test scenes, encoded as extract encodes them."""
    ds = MODELS[name][1]()
    scenes = ds.tables["test"]
    views = ViewMaker(clip.preprocess_cfg, ViewConfig(views=1))
    encoder = DenseImageEncoder(clip.model.visual, grid=1).eval()
    g = np.concatenate([b[0] for b in encode_table(scenes, encoder, views, Runtime(workers=0, progress=False))])
    text = encode_prompts(clip, ds.prompt_names, templates)
    return mean_ap(multihot(scenes.column("labels"), len(ds.classes)), zeroshot_scores(g[:, 0], text.numpy()))


@pytest.mark.parametrize("name", MODELS)
def test_shipped_weights_know_the_scenes_and_random_ones_do_not(name):
    weights, _, params, preset = _model(name)
    arch, templates = params["recipe"]["arch"], preset["extract"]["templates"]
    trained = _scene_zero_shot(load_clip(arch, str(weights)), name, templates)
    random = _scene_zero_shot(load_clip(arch, "none", seed=0), name, templates)
    assert trained >= 45.0, f"the shipped {name} scores {trained:.1f} zero-shot mAP on its scenes"
    assert random <= 35.0 and trained - random >= 15.0


@pytest.mark.parametrize("name", MODELS)
def test_the_recipe_stage_is_up_to_date_with_its_lock(name):
    """If this fails, a change touched what made the weights: rebuild them, or `dvc commit` if it cannot change them."""
    out = subprocess.run(
        ["dvc", "status", "--json", f"models/{name}/dvc.yaml"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout or "{}") == {}, out.stdout
