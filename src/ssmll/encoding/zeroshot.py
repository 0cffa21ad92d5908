"""CLIP's zero-shot read-outs of cached features: global cosine, and label-specific attention.

Apart from the method (which starts from them) so that the embedded CLIP's pretraining,
which reports them, depends on no method module: editing the method then leaves the
pretraining stage up to date.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def zeroshot_scores(image_global: np.ndarray, text: np.ndarray) -> np.ndarray:
    """Cosine of each (normalised) global image embedding with each class text embedding."""
    return normalize(image_global) @ normalize(text).T


def image_tokens(global_: torch.Tensor, local: torch.Tensor, include_global: bool) -> torch.Tensor:
    """(B, T[+1], D) positions attended over: the local grid, optionally plus the global token."""
    return torch.cat([local, global_[:, None]], dim=1) if include_global else local


def attend(
    queries: torch.Tensor, keys: torch.Tensor, values: torch.Tensor, scale: torch.Tensor | float
) -> torch.Tensor:
    """Per image and query, the softmax(scale * cosine)-weighted sum of values: (B, Q, D)."""
    sim = torch.einsum("qd,btd->bqt", F.normalize(queries, dim=-1), F.normalize(keys, dim=-1))
    return torch.einsum("bqt,btd->bqd", torch.softmax(scale * sim, dim=-1), values)


def aligned_cosine(features: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
    """Cosine of each query's own feature (B, Q, D) with its own text (Q, D): (B, Q)."""
    return (F.normalize(features, dim=-1) * F.normalize(text, dim=-1)).sum(-1)


def zeroshot_label_specific(tokens: torch.Tensor, text: torch.Tensor, attn_scale: float) -> torch.Tensor:
    """CLIP's zero-shot label-specific scores: each class text attends over the image tokens."""
    return aligned_cosine(attend(text, tokens, tokens, attn_scale), text)


def normalize(x: np.ndarray) -> np.ndarray:
    """float32 rows scaled to unit L2 norm (zero rows stay zero)."""
    x = np.asarray(x, dtype=np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)
