"""Contexts: co-occurrence from labels, text fallback, spectral clustering, targets, ARI."""

import numpy as np
import pytest

from ssmll.core.errors import UserError
from ssmll.method.contexts import (
    affinity_csv,
    affinity_matrix,
    agreement_with_groups,
    conditional_cooccurrence,
    context_targets,
    find_contexts,
    read_membership,
    write_contexts,
)

GROUPS = [[0, 1, 2, 3], [4, 5, 6], [7, 8, 9]]


def grouped_labels(n: int = 600, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    y = np.zeros((n, 10), dtype=np.float32)
    for i in range(n):
        g = GROUPS[rng.integers(3)]
        y[i, rng.choice(g, size=rng.integers(1, len(g) + 1), replace=False)] = 1
    return y


def test_conditional_cooccurrence_is_p_j_given_i():
    y = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 1], [0, 0, 0]], dtype=np.float32)
    p = conditional_cooccurrence(y)
    assert p[0, 1] == pytest.approx(2 / 3)  # of 3 images with class 0, 2 have class 1
    assert p[1, 0] == pytest.approx(1.0)
    assert p[2, 2] == pytest.approx(1.0)


def test_affinity_is_symmetric_and_falls_back_to_text_for_absent_classes():
    y = grouped_labels()
    y[:, 9] = 0
    text = np.random.default_rng(1).standard_normal((10, 8))
    a, absent = affinity_matrix(y, text, smoothing=0.01)
    assert absent == [9]
    np.testing.assert_allclose(a, a.T)
    t = text / np.linalg.norm(text, axis=1, keepdims=True)
    sim = (t @ t.T + 1) / 2
    ratio = a[9, :9] / (sim[9, :9] + 0.01)
    np.testing.assert_allclose(ratio, ratio[0])  # the fallback row is the text similarity, rescaled


def test_find_contexts_recovers_the_generating_groups():
    y = grouped_labels()
    ctx = find_contexts(y, np.eye(10), k=3)
    assert agreement_with_groups(ctx.assignment, GROUPS) == pytest.approx(1.0)
    assert ctx.assignment[0] == 0  # canonical numbering: contexts in order of their first class


def test_find_contexts_is_deterministic_and_validates_k():
    y = grouped_labels()
    assert (find_contexts(y, np.eye(10), 3).assignment == find_contexts(y, np.eye(10), 3).assignment).all()
    with pytest.raises(UserError, match="contexts.k"):
        find_contexts(y, np.eye(10), 11)
    assert find_contexts(y, np.eye(10), 1).assignment.tolist() == [0] * 10


def test_context_targets_mark_contexts_with_any_present_class():
    membership = np.zeros((10, 3), dtype=np.float32)
    for j, g in enumerate(GROUPS):
        membership[g, j] = 1
    y = np.zeros((3, 10), dtype=np.float32)
    y[0, [1, 2]] = 1
    y[1, [5, 8]] = 1
    targets, mask = context_targets(y, membership)
    np.testing.assert_array_equal(targets, [[1, 0, 0], [0, 1, 1], [0, 0, 0]])
    assert mask.all()  # true labels: every context is known


def test_context_targets_of_pseudo_labels_follow_their_mask():
    """A context is present when a kept pseudo-positive says so, absent only when all its classes are kept negatives."""
    membership = np.zeros((10, 3), dtype=np.float32)
    for j, g in enumerate(GROUPS):
        membership[g, j] = 1
    targets = np.zeros((2, 10), dtype=np.float32)
    targets[0, 1] = 1  # a kept positive of context 0
    targets[1, 4] = 1  # a positive of context 1 that the mask leaves out
    mask = np.ones((2, 10), dtype=np.float32)
    mask[1, 4] = 0
    mask[:, 9] = 0  # one class of context 2 is uncertain in both images
    ctx, ctx_mask = context_targets(targets, membership, mask)
    np.testing.assert_array_equal(ctx, [[1, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(ctx_mask, [[1, 1, 0], [1, 0, 0]])


def test_agreement_is_below_one_for_a_different_partition():
    assert agreement_with_groups(np.array([0, 0, 1, 1, 1, 2, 2, 2, 0, 1]), GROUPS) < 0.5


def test_written_contexts_read_back_as_membership_of_the_same_classes(tmp_path):
    classes = [str(d) for d in range(10)]
    ctx = find_contexts(grouped_labels(), np.eye(10), k=3)
    write_contexts(tmp_path / "contexts.json", ctx, classes)
    np.testing.assert_array_equal(read_membership(tmp_path / "contexts.json", classes), ctx.membership())
    assert ctx.membership().sum(0).tolist() == [4, 3, 3]
    with pytest.raises(UserError, match="re-run contexts"):
        read_membership(tmp_path / "contexts.json", classes[:-1])
    with pytest.raises(UserError, match="run the contexts stage first"):
        read_membership(tmp_path / "missing.json", classes)


def test_affinity_heat_map_has_one_row_per_class_pair():
    lines = affinity_csv(np.array([[1.0, 0.25], [0.25, 1.0]]), ["a", "b"]).splitlines()
    assert lines == ["class,with,affinity", "a,a,1.0000", "a,b,0.2500", "b,a,0.2500", "b,b,1.0000"]
