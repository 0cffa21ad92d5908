"""ssmll.evaluation.baselines: zero-shot CLIP and a linear probe on the labeled part."""

from __future__ import annotations

import numpy as np
import pytest

from ssmll.encoding.zeroshot import zeroshot_scores
from ssmll.evaluation.average_precision import mean_ap
from ssmll.evaluation.baselines import linear_probe_scores


def test_zeroshot_scores_are_cosines_whatever_the_norms():
    rng = np.random.default_rng(0)
    images, text = rng.normal(size=(5, 8)), rng.normal(size=(3, 8))
    cos = (images @ text.T) / np.linalg.norm(images, axis=1)[:, None] / np.linalg.norm(text, axis=1)[None, :]
    np.testing.assert_allclose(zeroshot_scores(images, text), cos, rtol=1e-5)
    np.testing.assert_allclose(zeroshot_scores(3 * images, 0.5 * text), cos, rtol=1e-5)


def _separable(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Features whose first three coordinates say which of three classes are present."""
    rng = np.random.default_rng(seed)
    y = (rng.random((n, 3)) < 0.4).astype(np.float32)
    x = rng.normal(scale=0.3, size=(n, 16))
    x[:, :3] += 2 * y - 1
    return x, y


def test_linear_probe_learns_separable_classes():
    x_train, y_train = _separable(60, 0)
    x_test, y_test = _separable(100, 1)
    scores = linear_probe_scores(x_train, y_train, x_test)
    assert scores.shape == (100, 3)
    assert ((scores >= 0) & (scores <= 1)).all()
    assert mean_ap(y_test, scores) > 95


def test_linear_probe_gives_a_constant_score_to_a_class_never_labeled_positive():
    x_train, y_train = _separable(60, 0)
    y_train[:, 1] = 0
    scores = linear_probe_scores(x_train, y_train, _separable(20, 1)[0])
    assert np.ptp(scores[:, 1]) == pytest.approx(0.0)
    assert np.ptp(scores[:, 0]) > 0.5
