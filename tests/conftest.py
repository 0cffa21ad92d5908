"""Shared fixtures: one tiny dataset with CLIP features built once per session, and tiny params.

The tiny dataset is what ``dvc repro`` makes from the repository's params with only the
size keys turned down (``TINY``): digit scenes, random ViT-S-32 weights, a 2x2 grid and
two views. Tests that only read it share the session copy; tests that write copy it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from ssmll.clip import DenseImageEncoder, LoadedClip, encode_prompts, load_clip
from ssmll.datasets.digits import DigitScenesConfig, build
from ssmll.encoding import ClipConfig, ExtractConfig, encoder_spec, write_encoding
from ssmll.extraction import Runtime, write_image_features
from ssmll.prepared import PreparedDataset, write_prepared
from ssmll.views import ViewConfig, ViewMaker

from tiny_params import TEMPLATES, TINY, write_params


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Make ``tmp_path`` the cwd with a tiny params.yaml; call again to rewrite it with overrides."""
    monkeypatch.chdir(tmp_path)
    return lambda overrides={}: write_params(tmp_path, overrides)


@pytest.fixture(scope="session")
def tiny_clip() -> LoadedClip:
    return load_clip("ViT-S-32", "none", seed=0)


@pytest.fixture(scope="session")
def tiny_scenes() -> PreparedDataset:
    """The tiny digit scenes, in memory."""
    return build(DigitScenesConfig(n_train=TINY["data.digits.n_train"], n_test=TINY["data.digits.n_test"]))


@pytest.fixture(scope="session")
def tiny_prepared(tmp_path_factory: pytest.TempPathFactory, tiny_scenes: PreparedDataset) -> Path:
    """The tiny scenes as the prepare stage writes them (a ``prepared`` directory)."""
    out = tmp_path_factory.mktemp("tiny") / "prepared"
    write_prepared(tiny_scenes, out)
    return out


@dataclass
class Tiny:
    """The tiny dataset on disk, prepared and extracted, with what it was made from."""

    prepared: Path
    features: Path
    dataset: PreparedDataset
    clip: LoadedClip


@pytest.fixture(scope="session")
def tiny(tiny_prepared: Path, tiny_scenes: PreparedDataset, tiny_clip: LoadedClip) -> Tiny:
    """The tiny scenes with features extracted as the extract stage writes them (fewer templates)."""
    features = tiny_prepared.parent / "features"
    ext = ExtractConfig(views=TINY["extract.views"], grid=TINY["extract.grid"], templates=tuple(TEMPLATES))
    encoder = DenseImageEncoder(tiny_clip.model.visual, grid=ext.grid).eval()
    views = {
        "train": ViewMaker(tiny_clip.preprocess_cfg, ext),
        "test": ViewMaker(tiny_clip.preprocess_cfg, ViewConfig(views=1)),
    }
    rt = Runtime("cpu", batch_size=32, workers=0, progress=False)
    for split, table in tiny_scenes.tables.items():
        write_image_features(table, encoder, views[split], rt, features / split)
    text = encode_prompts(tiny_clip, tiny_scenes.prompt_names, TEMPLATES).numpy()
    spec = encoder_spec(ClipConfig("ViT-S-32", "none", 0), ext, tiny_clip, encoder)
    write_encoding(features, spec, tiny_scenes.classes, tiny_scenes.prompt_names, text)
    return Tiny(tiny_prepared, features, tiny_scenes, tiny_clip)
