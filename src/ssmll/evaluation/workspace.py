"""The outputs of earlier stages in memory, as training and evaluation need them.

Each file is read by the module that writes it (prepared, features, encoding, split);
this module only puts them together and checks that they belong together.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssmll.core.errors import UserError
from ssmll.data.split import LabeledSplit, read_labeled_split
from ssmll.data.tables import multihot, read_classes, read_split
from ssmll.encoding.record import EncoderSpec, read_encoder_spec, read_text_features
from ssmll.encoding.store import read_image_features
from ssmll.method.featureset import FeatureSet


@dataclass
class Workspace:
    classes: list[str]
    prompt_names: list[str]
    encoder: EncoderSpec  # what the features were encoded with
    text: np.ndarray  # (C, D) class text embeddings
    train: FeatureSet  # all views
    train_ids: list[str]
    labeled: np.ndarray  # (N,) bool
    priors: np.ndarray  # (C,) class frequency in the labeled part
    test: FeatureSet  # view 0
    test_ids: list[str]


def load_workspace(
    prepared: Path, features: Path, split_dir: Path | None, train_views: int | None = None, device: str = "cpu"
) -> Workspace:
    """Labels, split and cached features of both splits, the features held once, fp16, on ``device``.

    Without ``split_dir`` nothing is labeled and the priors are zero: for the studies, which make
    their own splits (:func:`ssmll.evaluation.experiment.labeled_rows`) and so need no split stage.
    """
    classes, prompt_names = read_classes(prepared)
    c = len(classes)
    tables = {s: read_split(prepared, s) for s in ("train", "test")}
    feats = {s: read_image_features(features, s, views=train_views if s == "train" else 1) for s in tables}
    for s, t in tables.items():
        if feats[s].image_ids != t.column("image_id").to_pylist():
            raise UserError(f"features of {s} do not match data/prepared; re-run the extract stage (dvc repro extract)")
    n_train = len(feats["train"].image_ids)
    split = (
        LabeledSplit(np.zeros(n_train, dtype=bool), np.zeros(c))
        if split_dir is None
        else read_labeled_split(split_dir, feats["train"].image_ids, classes)
    )
    y = {s: multihot(t.column("labels"), c) for s, t in tables.items()}
    return Workspace(
        classes=classes,
        prompt_names=prompt_names,
        encoder=read_encoder_spec(features),
        text=read_text_features(features).astype(np.float32),
        train=FeatureSet.from_arrays(feats["train"].global_, feats["train"].local, y["train"], device),
        train_ids=feats["train"].image_ids,
        labeled=split.labeled,
        priors=split.priors,
        test=FeatureSet.from_arrays(feats["test"].global_, feats["test"].local, y["test"], device),
        test_ids=feats["test"].image_ids,
    )
