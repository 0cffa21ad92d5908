"""Label contexts: groups of classes that tend to appear together.

Co-occurrence is measured on the labeled part only: conditional probabilities
P(j | i) = n_ij / n_i, symmetrised as (P + P^T) / 2. A class without any labeled
positive has no row; its affinities fall back to text-embedding similarity, and it is
reported. A small constant keeps the graph connected, and scikit-learn's spectral
clustering on the precomputed affinity cuts it into K contexts.

This module writes and reads the contexts stage's ``contexts.json`` (classes, each class's
context index, each context's class names) and writes the heat map of the affinity.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssmll.core.errors import UserError
from ssmll.core.files import read_json, write_json


@dataclass(frozen=True)
class ContextsConfig:
    """The ``contexts`` params; :func:`find_contexts` checks ``k`` against the number of classes."""

    k: int = 3
    smoothing: float = 0.01
    seed: int = 0


@dataclass
class Contexts:
    affinity: np.ndarray  # (C, C) symmetric, in [0, 1]
    assignment: np.ndarray  # (C,) context index of each class
    fallback: list[int]  # classes whose affinities came from text similarity

    @property
    def k(self) -> int:
        return int(self.assignment.max()) + 1

    def membership(self) -> np.ndarray:
        return membership(self.assignment)

    def groups(self, classes: list[str]) -> list[list[str]]:
        return context_groups(self.membership(), classes)


def context_groups(membership: np.ndarray, classes: list[str]) -> list[list[str]]:
    """Each context's class names, from a (C, K) membership."""
    return [[classes[i] for i in np.flatnonzero(column)] for column in membership.T]


def membership(assignment: np.ndarray) -> np.ndarray:
    """(C, K) 0/1 matrix: class k belongs to context j."""
    m = np.zeros((len(assignment), int(assignment.max()) + 1), dtype=np.float32)
    m[np.arange(len(assignment)), assignment] = 1.0
    return m


def conditional_cooccurrence(y: np.ndarray) -> np.ndarray:
    """P(j | i) from a (N, C) 0/1 label matrix; rows of absent classes are zero."""
    y = y.astype(np.float64)
    counts = y.T @ y
    n = np.diag(counts)
    return np.divide(counts, n[:, None], out=np.zeros_like(counts), where=n[:, None] > 0)


def affinity_matrix(y: np.ndarray, text: np.ndarray, smoothing: float) -> tuple[np.ndarray, list[int]]:
    """Symmetrised conditional co-occurrence, text-similarity fallback, plus ``smoothing``."""
    p = conditional_cooccurrence(y)
    a = (p + p.T) / 2
    absent = [int(k) for k in np.flatnonzero(y.sum(0) == 0)]
    if absent:
        t = text / np.linalg.norm(text, axis=1, keepdims=True)
        sim = (t @ t.T + 1) / 2
        a[absent, :] = sim[absent, :]
        a[:, absent] = sim[:, absent]
    a = a + smoothing
    np.fill_diagonal(a, 1.0 + smoothing)
    return a / a.max(), absent


def find_contexts(y: np.ndarray, text: np.ndarray, k: int, smoothing: float = 0.01, seed: int = 0) -> Contexts:
    """Cut the class co-occurrence graph of the labeled part into ``k`` contexts."""
    from sklearn.cluster import SpectralClustering  # here, not at import: see ssmll.evaluation.metrics

    c = y.shape[1]
    if not 1 <= k <= c:
        raise UserError(f"contexts.k={k} must be between 1 and the number of classes ({c})")
    if smoothing < 0:
        raise UserError("contexts.smoothing must be non-negative")
    a, absent = affinity_matrix(y, text, smoothing)
    if k == 1:
        return Contexts(a, np.zeros(c, dtype=np.int64), absent)
    clustering = SpectralClustering(n_clusters=k, affinity="precomputed", random_state=seed, assign_labels="cluster_qr")
    labels = clustering.fit_predict(a)
    return Contexts(a, _canonical(labels), absent)


def _canonical(labels: np.ndarray) -> np.ndarray:
    """Renumber contexts in order of their first class, so equal partitions print equally."""
    order = {lab: i for i, lab in enumerate(dict.fromkeys(labels.tolist()))}
    return np.array([order[lab] for lab in labels], dtype=np.int64)


def context_targets(
    y: np.ndarray, membership: np.ndarray, mask: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(N, K) multi-hot context targets and their (N, K) loss mask, from (N, C) labels.

    Context j is present if any of its classes is a kept positive, absent if all of its
    classes are kept negatives, and unknown (masked out) otherwise. Without ``mask``
    (true labels) every entry is kept; with a pseudo-label mask, a context whose classes
    are all masked is not called absent.
    """
    kept = np.ones_like(y) if mask is None else mask
    present = (y * kept) @ membership > 0
    absent = ((1 - y) * kept) @ membership >= membership.sum(0)
    return present.astype(np.float32), (present | absent).astype(np.float32)


def agreement_with_groups(assignment: np.ndarray, groups: list[list[int]]) -> float:
    """Adjusted Rand index between recovered contexts and known class groups."""
    from sklearn.metrics import adjusted_rand_score

    truth = np.full(len(assignment), -1)
    for g, members in enumerate(groups):
        truth[members] = g
    return float(adjusted_rand_score(truth, assignment))


def write_contexts(path: Path, ctx: Contexts, classes: list[str]) -> None:
    write_json({"classes": classes, "assignment": ctx.assignment.tolist(), "contexts": ctx.groups(classes)}, path)


def read_membership(path: Path, classes: list[str]) -> np.ndarray:
    """(C, K) class-to-context membership from ``contexts.json``, which must cover ``classes``."""
    if not path.is_file():
        raise UserError(f"{path} not found; run the contexts stage first")
    saved = read_json(path)
    if saved["classes"] != classes:
        raise UserError(f"{path} was made for other classes than the prepared data's; re-run contexts")
    return membership(np.asarray(saved["assignment"], dtype=np.int64))


def affinity_csv(affinity: np.ndarray, classes: list[str]) -> str:
    """Long format (class, with, affinity) for DVC's heat map template."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["class", "with", "affinity"])
    for i, ci in enumerate(classes):
        for j, cj in enumerate(classes):
            w.writerow([ci, cj, f"{affinity[i, j]:.4f}"])
    return buf.getvalue()
