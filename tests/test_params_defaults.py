"""params.yaml and the library's config defaults agree, so tests and fixtures built from
the defaults describe what `dvc repro` runs, and every section parses by the one route."""

import pytest
import yaml
from tiny_params import REPO

from ssmll.core.config import from_params
from ssmll.data.sources.registry import SOURCES, DataConfig
from ssmll.data.split import SplitConfig
from ssmll.encoding.record import ClipConfig, ExtractConfig
from ssmll.evaluation.scoring import EvaluateConfig
from ssmll.method.contexts import ContextsConfig
from ssmll.method.model import ModelConfig
from ssmll.method.pseudo import PseudoConfig
from ssmll.method.trainer import TrainConfig
from ssmll.pretrain.corpus import CorpusConfig
from ssmll.pretrain.recipe import RecipeConfig

PARAMS = yaml.safe_load((REPO / "params.yaml").read_text())
RECIPE_PARAMS = yaml.safe_load((REPO / "models" / "digit-clip" / "params.yaml").read_text())

SECTIONS = {
    "clip": ClipConfig,
    "extract": ExtractConfig,
    "split": SplitConfig,
    "contexts": ContextsConfig,
    "model": ModelConfig,
    "train": TrainConfig,
    "pseudo": PseudoConfig,
    "evaluate": EvaluateConfig,
}


def test_every_section_of_params_yaml_has_a_config():
    assert set(PARAMS) == {*SECTIONS, "data"}


@pytest.mark.parametrize("section", SECTIONS)
def test_section_is_the_code_defaults(section):
    cls = SECTIONS[section]
    assert from_params(cls, PARAMS[section], section) == cls()


def test_data_section_is_the_code_defaults():
    data = PARAMS["data"]
    assert from_params(DataConfig, {k: v for k, v in data.items() if k not in SOURCES}, "data") == DataConfig()


@pytest.mark.parametrize("section, cls", [("corpus", CorpusConfig), ("recipe", RecipeConfig)])
def test_embedded_clip_recipe_params_are_the_code_defaults(section, cls):
    assert from_params(cls, RECIPE_PARAMS[section], section) == cls()
