"""The shipped embedded CLIP (models/digit-clip/): what it is, that it knows its world, and that it is traceable."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess

import numpy as np
import pytest
import yaml
from safetensors import safe_open
from tiny_params import REPO

from ssmll.core.config import from_params
from ssmll.core.runtime import Runtime
from ssmll.data.digits.scenes import CLASS_NAMES, DigitScenesConfig, build
from ssmll.data.tables import multihot
from ssmll.encoding.clip import DenseImageEncoder, encode_prompts, load_clip
from ssmll.encoding.extraction import encode_table
from ssmll.encoding.views import ViewConfig, ViewMaker
from ssmll.encoding.zeroshot import zeroshot_scores
from ssmll.evaluation.average_precision import mean_ap
from ssmll.pretrain.corpus import CorpusConfig, build_corpus
from ssmll.pretrain.recipe import RecipeConfig, zero_shot

MODEL_DIR = REPO / "models" / "digit-clip"
WEIGHTS = MODEL_DIR / "weights.safetensors"
RECORDED = json.loads((MODEL_DIR / "metrics.json").read_text())
RECIPE = yaml.safe_load((MODEL_DIR / "params.yaml").read_text())
PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
CLIP = PARAMS["clip"]


def test_the_default_pipeline_loads_the_shipped_checkpoint_as_a_user_checkpoint():
    assert (REPO / CLIP["pretrained"]).resolve() == WEIGHTS.resolve()
    assert CLIP["model"] == RECIPE["recipe"]["arch"] == RECORDED["arch"]


def test_shipped_weights_are_small_fp16_and_those_the_metrics_describe():
    assert WEIGHTS.stat().st_size <= 20 * 2**20
    with safe_open(str(WEIGHTS), "pt") as f:
        assert {str(f.get_slice(k).get_dtype()) for k in f.keys()} == {"F16"}
    assert hashlib.sha256(WEIGHTS.read_bytes()).hexdigest() == RECORDED["sha256"]


def test_shipped_checkpoint_reproduces_its_recorded_zero_shot():
    """Through load_clip, as extract loads it, on the recipe's held-out validation images."""
    clip = load_clip(CLIP["model"], str(WEIGHTS))
    recipe = from_params(RecipeConfig, RECIPE["recipe"], "recipe")
    corpus = from_params(CorpusConfig, RECIPE["corpus"], "corpus")
    _, val = build_corpus(dataclasses.replace(corpus, images=1))  # validation images do not depend on the training ones
    got = zero_shot(clip, val, recipe.eval_templates, recipe.eval_attn_scale)
    assert got["zeroshot_mAP"] == pytest.approx(RECORDED["val_zeroshot_mAP"], abs=0.05)
    assert got["label_specific_mAP"] == pytest.approx(RECORDED["val_label_specific_mAP"], abs=0.05)


def _scene_zero_shot(clip) -> float:
    """Zero-shot mAP on 100 default test scenes, encoded as extract encodes them."""
    scenes = build(DigitScenesConfig(n_train=1, n_test=100)).tables["test"]
    views = ViewMaker(clip.preprocess_cfg, ViewConfig(views=1))
    encoder = DenseImageEncoder(clip.model.visual, grid=1).eval()
    g = np.concatenate([b[0] for b in encode_table(scenes, encoder, views, Runtime(workers=0, progress=False))])
    text = encode_prompts(clip, CLASS_NAMES, PARAMS["extract"]["templates"])
    return mean_ap(multihot(scenes.column("labels"), len(CLASS_NAMES)), zeroshot_scores(g[:, 0], text.numpy()))


def test_shipped_weights_know_the_scenes_and_random_ones_do_not():
    trained = _scene_zero_shot(load_clip(CLIP["model"], str(WEIGHTS)))
    random = _scene_zero_shot(load_clip(CLIP["model"], "none", seed=0))
    assert trained >= 45.0, f"the shipped CLIP scores {trained:.1f} zero-shot mAP on default scenes"
    assert random <= 35.0 and trained - random >= 15.0


def test_the_recipe_stage_is_up_to_date_with_its_lock():
    """If this fails, a change touched what made the weights: rebuild them, or `dvc commit` if it cannot change them."""
    out = subprocess.run(
        ["dvc", "status", "--json", "models/digit-clip/dvc.yaml"], cwd=REPO, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout or "{}") == {}, out.stdout
