"""Reading the outputs of earlier stages back as the arrays training and evaluation need."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

from ssmll.errors import UserError
from ssmll.features import read_image_features, read_text_features
from ssmll.io import atomic_path, read_json
from ssmll.model import AlignmentModel, ModelConfig
from ssmll.prepared import multihot, read_classes, read_split
from ssmll.featureset import FeatureSet


@dataclass
class Workspace:
    classes: list[str]
    text: np.ndarray  # (C, D) class text embeddings
    train: FeatureSet  # all views
    train_ids: list[str]
    labeled: np.ndarray  # (N,) bool
    priors: np.ndarray  # (C,) class frequency in the labeled part
    test: FeatureSet  # view 0
    test_ids: list[str]


def load_workspace(prepared: Path, features: Path, split_dir: Path, train_views: int | None = None) -> Workspace:
    """Labels, split and cached features of both splits, in memory."""
    classes, _ = read_classes(prepared)
    c = len(classes)
    tables = {s: read_split(prepared, s) for s in ("train", "test")}
    feats = {s: read_image_features(features, s, views=train_views if s == "train" else 1) for s in tables}
    for s, t in tables.items():
        if feats[s].image_ids != t.column("image_id").to_pylist():
            raise UserError(f"features of {s} do not match data/prepared; re-run the extract stage (dvc repro extract)")
    split_file = split_dir / "split.parquet"
    if not split_file.is_file():
        raise UserError(f"{split_file} not found; run the split stage first")
    labeled = pq.read_table(split_file).column("labeled").to_numpy(zero_copy_only=False).astype(bool)
    y = {s: multihot(t.column("labels"), c) for s, t in tables.items()}
    return Workspace(
        classes=classes,
        text=read_text_features(features).astype(np.float32),
        train=FeatureSet.from_arrays(feats["train"].global_, feats["train"].local, y["train"]),
        train_ids=feats["train"].image_ids,
        labeled=labeled,
        priors=np.asarray(read_json(split_dir / "priors.json")["priors"], dtype=np.float64),
        test=FeatureSet.from_arrays(feats["test"].global_, feats["test"].local, y["test"]),
        test_ids=feats["test"].image_ids,
    )


def read_membership(contexts_file: Path, num_classes: int) -> np.ndarray:
    """(C, K) class-to-context membership from the contexts stage's JSON."""
    if not contexts_file.is_file():
        raise UserError(f"{contexts_file} not found; run the contexts stage first")
    assignment = np.asarray(read_json(contexts_file)["assignment"])
    if len(assignment) != num_classes:
        raise UserError(f"{contexts_file} has {len(assignment)} classes, the data {num_classes}; re-run contexts")
    m = np.zeros((num_classes, int(assignment.max()) + 1), dtype=np.float32)
    m[np.arange(num_classes), assignment] = 1.0
    return m


def save_model(model: AlignmentModel, path: Path, extra: dict | None = None) -> None:
    """Checkpoint with everything needed to rebuild the model (text, contexts, config)."""
    payload = {
        "state_dict": model.state_dict(),
        "model_cfg": asdict(model.cfg),
        **(extra or {}),
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_model(path: Path) -> tuple[AlignmentModel, dict]:
    """The model saved by ``save_model`` and the checkpoint's other entries."""
    if not path.is_file():
        raise UserError(f"{path} not found; run the train stage first")
    payload = torch.load(path, map_location="cpu", weights_only=False)
    state = payload.pop("state_dict")
    model = AlignmentModel(state["text"], state["membership"], ModelConfig(**payload.pop("model_cfg")))
    model.load_state_dict(state)
    return model.eval(), payload
