"""The model bundle: one file that labels new images with no other file of the pipeline.

The train stage writes it; pseudolabel, evaluate and ``ssmll predict`` read it. It holds
the alignment model's weights and config; the record of the image encoder its features
came from (:class:`~ssmll.encoding.record.EncoderSpec`: CLIP architecture and a reference to its
weights, a checkpoint by path and sha256, preprocessing and image size, the zoomed crops'
layout or the grid and local-token path, prompt templates); the class names and prompt names;
the contexts; and class-wise decision thresholds chosen without the test set
(:func:`~ssmll.method.thresholds.decision_thresholds`, whose
:data:`~ssmll.method.thresholds.DECISION_RULE` the file records). Only tensors and plain
Python values are stored, so ``torch.load(weights_only=True)`` reads it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ssmll.core.errors import UserError
from ssmll.core.files import atomic_path, json_values
from ssmll.encoding.record import EncoderSpec
from ssmll.method.model import AlignmentModel, ModelConfig
from ssmll.method.thresholds import DECISION_RULE, apply_thresholds

FORMAT = "ssmll-model-bundle/1"


@dataclass
class Bundle:
    model: AlignmentModel
    encoder: EncoderSpec
    classes: list[str]
    prompt_names: list[str]
    contexts: list[list[str]]  # each context's class names
    thresholds: np.ndarray  # (C,) a class is predicted when its score is at least its threshold
    training: dict[str, Any] = field(default_factory=dict)  # variant, params, history: provenance only

    def labels(self, scores: np.ndarray) -> np.ndarray:
        """(N, C) bool: the decision for each image and class."""
        return apply_thresholds(scores, self.thresholds)


def save_bundle(path: Path, bundle: Bundle) -> None:
    payload = {
        "format": FORMAT,
        "state_dict": {k: v.cpu() for k, v in bundle.model.state_dict().items()},  # whatever device it trained on
        "model_cfg": dataclasses.asdict(bundle.model.cfg),
        "encoder": dataclasses.asdict(bundle.encoder),
        "classes": list(bundle.classes),
        "prompt_names": list(bundle.prompt_names),
        "contexts": bundle.contexts,
        "thresholds": torch.from_numpy(np.asarray(bundle.thresholds, dtype=np.float32)),
        "decision_rule": DECISION_RULE,
        "training": json_values(bundle.training),  # JSON values, which weights_only loading accepts
    }
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)


def load_bundle(path: Path) -> Bundle:
    """The bundle at ``path``; anything else is a user error that says what to do."""
    if not path.is_file():
        raise UserError(f"{path} not found; run the train stage first (dvc repro train)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any unreadable file is the same user error
        raise UserError(
            f"{path} is not a model bundle ({type(e).__name__}); give a file the train stage wrote"
        ) from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path} is not a {FORMAT} model bundle; re-run the train stage (dvc repro train) to make one")
    state = payload["state_dict"]
    model = AlignmentModel(state["text"], state["membership"], ModelConfig(**payload["model_cfg"]))
    model.load_state_dict(state)
    encoder = payload["encoder"]
    return Bundle(
        model=model.eval(),
        encoder=EncoderSpec(**{**encoder, "templates": tuple(encoder["templates"])}),
        classes=payload["classes"],
        prompt_names=payload["prompt_names"],
        contexts=payload["contexts"],
        thresholds=payload["thresholds"].numpy().astype(np.float64),
        training=payload["training"],
    )
