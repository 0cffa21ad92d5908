"""Cached image features held in memory once, in fp16, on one device; batch inference over them.

A :class:`FeatureSet` keeps the features of N images as extract stored them (fp16), on
the device that trains or scores them. A batch is gathered there, by row and view, and
only that batch becomes float32: no float32 copy of the whole set and no per-epoch copy
of any part of it is made, so memory stays near the fp16 bytes. Features too large for
the GPU stay in host memory, and each batch is copied over.

Apart from the training loop, so that the stages that only score (pseudolabel, evaluate)
do not depend on it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

#: Images per inference batch. Fixed, not a runtime knob, so that no result can depend on
#: it: CPU matmul kernels may change their summation order with the rows (what a smaller
#: batch saves and what it moved: docs/scale.md).
INFERENCE_BATCH = 256


@dataclass
class FeatureSet:
    """Features of N images: global (N, V, D) and local (N, V, T, D) fp16 tensors; labels (N, C) on the host.

    ``device`` is where batches are used; the tensors live there too unless they did not fit.
    """

    global_: torch.Tensor
    local: torch.Tensor
    y: np.ndarray
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @classmethod
    def from_arrays(cls, global_: np.ndarray, local: np.ndarray, y: np.ndarray, device: str = "cpu") -> FeatureSet:
        """Hold the arrays as fp16 tensors on ``device`` (no copy on CPU when they are fp16 already)."""
        g, loc = (torch.from_numpy(np.asarray(a, dtype=np.float16)) for a in (global_, local))
        target = torch.device(device)
        if target.type == "cuda" and target.index is None:  # "cuda" is the current GPU; a tensor's device names it
            target = torch.device("cuda", torch.cuda.current_device())
        try:
            g, loc = g.to(target), loc.to(target)
        except torch.cuda.OutOfMemoryError:
            g, loc = g.cpu(), loc.cpu()
            torch.cuda.empty_cache()
        return cls(g, loc, y, target)

    def __len__(self) -> int:
        return len(self.y)

    @property
    def views(self) -> int:
        return self.global_.shape[1]

    @property
    def nbytes(self) -> int:
        return self.global_.nbytes + self.local.nbytes

    @property
    def on_device(self) -> bool:
        """Whether the features themselves live on ``device`` (False: in host memory, copied per batch)."""
        return self.local.device == self.device

    def batch(self, rows: np.ndarray, views: np.ndarray | int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """float32 global (B, D) and local (B, T, D) of ``rows`` at ``views`` (one per row, or one for all)."""
        where = self.local.device
        i, v = torch.as_tensor(rows, device=where), torch.as_tensor(views, device=where)
        g, loc = self.global_[i, v], self.local[i, v]
        return g.to(self.device, non_blocking=True).float(), loc.to(self.device, non_blocking=True).float()

    def global_array(self, rows: np.ndarray | None = None) -> np.ndarray:
        """float32 global embeddings of view 0 on the host, (n, D): small, no local tokens."""
        g = self.global_[:, 0] if rows is None else self.global_[torch.as_tensor(rows, device=self.global_.device), 0]
        return g.float().cpu().numpy()


def map_batches(
    fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    feats: FeatureSet,
    rows: np.ndarray | None = None,
    batch_size: int | None = None,
    view: int = 0,
) -> np.ndarray:
    """``fn(global, local)`` on ``view`` (the plain one by default), batch by batch over ``rows`` (all if None).

    The results land in one (n, C) array, allocated at the first batch where ``fn`` returns
    (on a GPU, there) and copied to the host once. Kept as a small tensor per batch, the
    results split the heap between the batches' large temporaries, so that glibc could reuse
    none of them and memory grew by one batch's temporaries per batch (docs/scale.md). The
    row indices go to the features' device once too: a copy per batch would wait for the GPU.
    """
    rows = np.arange(len(feats)) if rows is None else np.asarray(rows)
    batch_size = batch_size or INFERENCE_BATCH
    at = torch.as_tensor(rows, device=feats.local.device)
    out = None
    for s in range(0, len(rows), batch_size):
        scores = fn(*feats.batch(at[s : s + batch_size], view))
        if out is None:
            out = scores.new_empty((len(rows), scores.shape[1]))
        out[s : s + len(scores)] = scores
    return np.zeros((0, feats.y.shape[1]), np.float32) if out is None else out.cpu().numpy()


@torch.inference_mode()
def predict(model: torch.nn.Module, feats: FeatureSet, rows: np.ndarray | None = None, view: int = 0) -> np.ndarray:
    """Sigmoid class probabilities of ``view`` (the plain one by default) of ``rows`` (all if None), (n, C)."""
    model.eval()
    return map_batches(lambda g, loc: torch.sigmoid(model(g, loc)[0]), feats, rows, view=view)


def predict_views(model: torch.nn.Module, feats: FeatureSet, rows: np.ndarray | None = None) -> np.ndarray:
    """The mean of :func:`predict` over every cached view of ``rows``: a guess steadier than one view's."""
    return np.mean([predict(model, feats, rows, view=v) for v in range(feats.views)], axis=0)
