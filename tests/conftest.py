"""Shared fixtures: one tiny dataset with CLIP features built once per session, and tiny params.

The tiny dataset is what ``dvc repro`` makes from the repository's params with only the
size keys turned down (``TINY``): digit scenes, random ViT-S-32 weights, a 2x2 grid and
two views. Tests that only read it share the session copy; tests that write copy it.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from ssmll.clip import DenseImageEncoder, LoadedClip, encode_prompts, load_clip
from ssmll.datasets.digits import DigitScenesConfig, build
from ssmll.features import Runtime, text_table, write_image_features
from ssmll.io import write_parquet
from ssmll.prepared import PreparedDataset, write_prepared
from ssmll.views import ViewConfig, ViewMaker

from tiny_params import TEMPLATES, TINY, repo_params


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Make ``tmp_path`` the cwd with a tiny params.yaml; call again to rewrite it with overrides."""
    monkeypatch.chdir(tmp_path)

    def write(overrides: Mapping[str, Any] = {}) -> Path:
        (tmp_path / "params.yaml").write_text(yaml.safe_dump(repo_params(overrides), sort_keys=False))
        return tmp_path

    return write


@dataclass
class Tiny:
    """The session's tiny dataset: prepared tables and features on disk, plus their sources."""

    root: Path
    dataset: PreparedDataset
    clip: LoadedClip

    @property
    def prepared(self) -> Path:
        return self.root / "prepared"

    @property
    def features(self) -> Path:
        return self.root / "features"

    def copy_to(self, data_dir: Path, *names: str) -> None:
        """Copy the named outputs (``prepared``, ``features``) under ``data_dir``, as a stage finds them."""
        for name in names:
            shutil.copytree(self.root / name, data_dir / name)


@pytest.fixture(scope="session")
def tiny_clip() -> LoadedClip:
    return load_clip("ViT-S-32", "none", seed=0)


@pytest.fixture(scope="session")
def tiny_scenes() -> PreparedDataset:
    """The tiny digit scenes, in memory."""
    return build(DigitScenesConfig(n_train=TINY["data.digits.n_train"], n_test=TINY["data.digits.n_test"]))


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory, tiny_scenes: PreparedDataset, tiny_clip: LoadedClip) -> Tiny:
    """The tiny digit scenes prepared and their features extracted, as the stages write them."""
    root = tmp_path_factory.mktemp("tiny")
    ds = tiny_scenes
    write_prepared(ds, root / "prepared")
    encoder = DenseImageEncoder(tiny_clip.model.visual, grid=TINY["extract.grid"]).eval()
    views = {
        "train": ViewMaker(tiny_clip.preprocess_cfg, ViewConfig(views=TINY["extract.views"])),
        "test": ViewMaker(tiny_clip.preprocess_cfg, ViewConfig(views=1)),
    }
    rt = Runtime("cpu", batch_size=32, workers=0, progress=False)
    for split, table in ds.tables.items():
        write_image_features(table, encoder, views[split], rt, root / "features" / split)
    text = encode_prompts(tiny_clip, ds.prompt_names, TEMPLATES).numpy()
    write_parquet(text_table(ds.classes, ds.prompt_names, text), root / "features" / "text.parquet")
    return Tiny(root, ds, tiny_clip)
