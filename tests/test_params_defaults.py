"""params.yaml and the library's config defaults agree, so tests and fixtures built from
the defaults describe what `dvc repro` runs."""

import dataclasses

import yaml

from ssmll.config import from_mapping
from ssmll.model import ModelConfig
from ssmll.trainer import TrainConfig
from ssmll.views import ViewConfig

from tiny_params import REPO

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())


def test_train_and_model_sections_are_the_code_defaults():
    assert from_mapping(TrainConfig, PARAMS["train"], "train") == TrainConfig()
    assert from_mapping(ModelConfig, PARAMS["model"], "model") == ModelConfig()


def test_extract_view_settings_are_the_code_defaults():
    views = {f.name for f in dataclasses.fields(ViewConfig)}
    assert from_mapping(ViewConfig, {k: v for k, v in PARAMS["extract"].items() if k in views}, "extract") == ViewConfig()
