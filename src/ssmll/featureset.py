"""Cached image features held in memory, and batch inference over them.

Apart from the training loop, so that the stages that only score (pseudolabel, evaluate)
do not depend on it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ssmll.model import AlignmentModel


@dataclass
class FeatureSet:
    """Features of N images in memory: global (N, V, D), local (N, V, T, D), labels (N, C)."""

    global_: torch.Tensor
    local: torch.Tensor
    y: np.ndarray

    @classmethod
    def from_arrays(cls, global_: np.ndarray, local: np.ndarray, y: np.ndarray) -> FeatureSet:
        return cls(torch.from_numpy(np.asarray(global_, np.float32)), torch.from_numpy(np.asarray(local, np.float32)), y)

    def subset(self, idx: np.ndarray) -> FeatureSet:
        i = torch.from_numpy(idx)
        return FeatureSet(self.global_[i], self.local[i], self.y[idx])

    def view(self, idx: np.ndarray, views: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        i, v = torch.from_numpy(idx), torch.from_numpy(views)
        return self.global_[i, v], self.local[i, v]


@torch.inference_mode()
def predict(model: AlignmentModel, feats: FeatureSet, batch_size: int = 1024) -> np.ndarray:
    """Sigmoid class probabilities of view 0, (N, C)."""
    model.eval()
    out = []
    for s in range(0, len(feats.y), batch_size):
        logits, _ = model(feats.global_[s : s + batch_size, 0], feats.local[s : s + batch_size, 0])
        out.append(torch.sigmoid(logits))
    return torch.cat(out).numpy() if out else np.zeros((0, feats.y.shape[1]), np.float32)
