"""The SSMLL labeled/unlabeled split: ``RandomState(seed).permutation(n)``, first part labeled.

This module writes and reads the split stage's output directory::

    split.parquet   image_id, labeled (one row per training image, in the prepared order)
    priors.json     classes, priors (class frequencies of the labeled part)
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from ssmll.core.errors import UserError
from ssmll.core.files import atomic_path, dumps_json, read_json, write_table_to


@dataclass(frozen=True)
class SplitConfig:
    """The ``split`` params; :func:`labeled_split` checks them against the pool's size."""

    lb_ratio: float = 0.05
    seed: int = 1


@dataclass
class Split:
    image_ids: list[str]
    labeled: np.ndarray  # bool (N,)

    def table(self) -> pa.Table:
        return pa.table({"image_id": pa.array(self.image_ids, pa.string()), "labeled": pa.array(self.labeled)})


def labeled_split(image_ids: list[str], lb_ratio: float, seed: int) -> Split:
    """Mark the first ``int(lb_ratio * n)`` images of a seeded permutation as labeled."""
    if not 0.0 < lb_ratio <= 1.0:
        raise UserError(f"split.lb_ratio={lb_ratio} is outside (0, 1]; use e.g. 0.05, 0.1, 0.15 or 0.2")
    n = len(image_ids)
    n_labeled = int(lb_ratio * n)
    if n_labeled < 1:
        raise UserError(f"split.lb_ratio={lb_ratio} of {n} images labels none; raise split.lb_ratio")
    order = np.random.RandomState(seed).permutation(n)
    labeled = np.zeros(n, dtype=bool)
    labeled[order[:n_labeled]] = True
    return Split(list(image_ids), labeled)


def class_priors(y_labeled: np.ndarray) -> np.ndarray:
    """Frequency of each class among the labeled images."""
    return y_labeled.mean(0) if len(y_labeled) else np.zeros(y_labeled.shape[1])


@dataclass
class LabeledSplit:
    """The split stage's output as training reads it."""

    labeled: np.ndarray  # (N,) bool, in the prepared train table's order
    priors: np.ndarray  # (C,) class frequencies of the labeled part


def write_labeled_split(out_dir: Path, split: Split, classes: list[str], priors: np.ndarray) -> None:
    """The assignment and the labeled part's priors, as one atomic directory."""
    with atomic_path(out_dir, is_dir=True) as tmp:
        write_table_to(split.table(), tmp / "split.parquet")
        (tmp / "priors.json").write_text(dumps_json({"classes": classes, "priors": [float(p) for p in priors]}))


def read_labeled_split(split_dir: Path, image_ids: list[str], classes: list[str]) -> LabeledSplit:
    """The split of the training images ``image_ids`` over ``classes``; a stale split is an error."""
    table_file, priors_file = split_dir / "split.parquet", split_dir / "priors.json"
    if not table_file.is_file() or not priors_file.is_file():
        raise UserError(f"{split_dir} holds no split; run the split stage first (dvc repro split)")
    table = pq.read_table(table_file)
    priors = read_json(priors_file)
    if table.column("image_id").to_pylist() != image_ids or priors["classes"] != classes:
        raise UserError(f"{split_dir} was made from other prepared data; re-run the split stage (dvc repro split)")
    labeled = table.column("labeled").to_numpy(zero_copy_only=False).astype(bool)
    return LabeledSplit(labeled, np.asarray(priors["priors"], dtype=np.float64))
