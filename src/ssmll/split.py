"""The SSMLL labeled/unlabeled split: ``RandomState(seed).permutation(n)``, first part labeled."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ssmll.errors import UserError


@dataclass(frozen=True)
class SplitConfig:
    """The ``split`` params; :func:`labeled_split` checks them against the pool's size."""

    lb_ratio: float = 0.1
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
