"""Shared fixtures: one tiny dataset with CLIP features built once per session, and tiny params.

The tiny dataset is what ``dvc repro`` makes from the repository's params with only the
size keys turned down (``TINY``): object scenes, the shipped embedded CLIP, 2 x 2 crops and
two views. Tests that only read it share the session copy; tests that write copy it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from tiny_params import TEMPLATES, TINY, repo_params, write_params
from typer.testing import CliRunner

from ssmll.data.scenes.objects import ObjectScenesConfig, build
from ssmll.data.tables import PreparedDataset, write_prepared
from ssmll.encoding.clip import LoadedClip, load_clip
from stages.extract import cli as extract_cli

#: The extract stage's runtime options for tests: one process, CPU, quiet.
EXTRACT_RUNTIME = ["--workers", "0", "--device", "cpu", "--no-progress"]


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., Path]:
    """Make ``tmp_path`` the cwd with a tiny params.yaml; call again to rewrite it with overrides."""
    monkeypatch.chdir(tmp_path)
    return lambda overrides={}: write_params(tmp_path, overrides)


@pytest.fixture(scope="session")
def tiny_clip() -> LoadedClip:
    """The repository's CLIP (model and weights of params.yaml)."""
    clip = repo_params()["clip"]
    return load_clip(clip["model"], str(clip["pretrained"]), seed=clip["seed"])


@pytest.fixture(scope="session")
def tiny_scenes() -> PreparedDataset:
    """The tiny object scenes, in memory."""
    return build(ObjectScenesConfig(n_train=TINY["data.objects.n_train"], n_test=TINY["data.objects.n_test"]))


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
    """The tiny scenes with features written by the extract stage itself (tiny params, one prompt template)."""
    root = write_params(tiny_prepared.parent, {"extract.templates": TEMPLATES})
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        result = CliRunner().invoke(extract_cli, ["--prepared", "prepared", "--out", "features", *EXTRACT_RUNTIME])
    assert result.exit_code == 0, result.output
    return Tiny(tiny_prepared, root / "features", tiny_scenes, tiny_clip)
