"""Pseudo-labels: the CAP rule's counts, masks, the fixed and MAT rules, and the teacher's views."""

import numpy as np
import pytest
import torch

from ssmll.core.errors import UserError
from ssmll.method.featureset import FeatureSet
from ssmll.method.pseudo import LABELERS, PseudoConfig, label_pool, make_pseudo_labels
from ssmll.method.thresholds import RULES, Scores

CAP = PseudoConfig()


def test_cap_positives_match_the_priors_exactly_with_ties():
    rng = np.random.default_rng(0)
    probs = rng.integers(0, 3, size=(200, 4)).astype(np.float32) / 2  # heavy ties
    priors = np.array([0.1, 0.25, 0.5, 0.0])
    pl = make_pseudo_labels(CAP, Scores(probs, priors))
    np.testing.assert_array_equal(pl.targets.sum(0), np.rint(priors * 200))
    assert pl.mask.all()


def test_cap_with_all_equal_scores_still_gives_prior_sized_positives():
    pl = make_pseudo_labels(CAP, Scores(np.full((50, 2), 0.3), np.array([0.2, 0.5])))
    np.testing.assert_array_equal(pl.targets.sum(0), [10, 25])


def test_cap_masks_keep_only_the_confident_ends():
    probs = np.linspace(0, 1, 100)[:, None]
    pl = make_pseudo_labels(PseudoConfig(pos_fraction=0.5, neg_fraction=0.5), Scores(probs, np.array([0.2])))
    assert pl.targets[:, 0].sum() == 10 and pl.targets[-10:, 0].all()  # the top 10 of 20
    assert pl.mask[:, 0].sum() == 10 + 40  # plus the bottom 40 of 80 as negatives
    assert not pl.mask[40:90, 0].any()


def test_fixed_rule_thresholds_probabilities():
    probs = np.array([[0.2, 0.8], [0.6, 0.4]])
    pl = make_pseudo_labels(PseudoConfig("fixed", fixed_threshold=0.5), Scores(probs, np.zeros(2)))
    np.testing.assert_array_equal(pl.targets, [[0, 1], [1, 0]])


def test_mat_rule_uses_the_labeled_f1_threshold():
    lab_probs = np.array([[0.9], [0.7], [0.3], [0.1]])
    lab_y = np.array([[1], [1], [0], [0]])
    pl = make_pseudo_labels(PseudoConfig("mat"), Scores(np.array([[0.75], [0.5]]), np.zeros(1), lab_probs, lab_y))
    np.testing.assert_array_equal(pl.targets, [[1], [0]])  # threshold 0.7


@pytest.mark.parametrize(
    "cfg",
    [
        PseudoConfig("median"),
        PseudoConfig(fixed_threshold=1.5),
        PseudoConfig(pos_fraction=2),
        PseudoConfig(teacher_views="strong"),
        PseudoConfig(zeroshot_prior=-1),
    ],
)
def test_impossible_settings_are_user_errors(cfg):
    with pytest.raises(UserError):
        make_pseudo_labels(cfg, Scores(np.zeros((3, 1)), np.zeros(1)))


def test_cap_with_full_fractions_labels_every_entry_for_any_prior():
    probs = np.random.default_rng(3).random((101, 7))
    pl = make_pseudo_labels(CAP, Scores(probs, np.array([0.005, 0.125, 0.375, 0.5, 0.625, 0.995, 1.0])))
    assert pl.mask.all()


def test_every_threshold_rule_can_label_a_pool():
    assert set(LABELERS) == set(RULES)


class FirstCoordinate(torch.nn.Module):
    """Scores class 0 by the global embedding's first coordinate; no context head."""

    def forward(self, g, local):
        return g[:, :1], g[:, :0]


@pytest.mark.parametrize("views, expected", [("all", [0.5, 0.5]), ("plain", [0.0, 1.0])])
def test_the_teacher_scores_an_image_by_the_mean_over_its_views_or_by_the_plain_one(views, expected):
    """Image 0 scores -inf-ish on its plain view and +inf-ish on its strong one, image 1 the other way round."""
    g = np.zeros((3, 2, 4), np.float32)
    g[0, :, 0], g[1, :, 0], g[2, :, 0] = (-50, 50), (50, -50), (50, 50)
    feats = FeatureSet.from_arrays(g, np.zeros((3, 2, 1, 4), np.float32), np.array([[0], [0], [1]]))
    probs, _ = label_pool(
        FirstCoordinate(),
        feats,
        np.array([0, 1]),
        np.array([2]),
        np.array([0.5]),
        PseudoConfig(teacher_views=views, zeroshot_prior=0.0),
    )
    np.testing.assert_allclose(probs[:, 0], expected, atol=1e-6)


def test_soft_targets_keep_the_rules_mask_and_decisions_but_learn_the_probabilities():
    probs = np.linspace(0, 1, 100)[:, None]
    cfg = PseudoConfig(pos_fraction=0.5, neg_fraction=0.5, targets="soft")
    hard = make_pseudo_labels(PseudoConfig(pos_fraction=0.5, neg_fraction=0.5), Scores(probs, np.array([0.2])))
    soft = make_pseudo_labels(cfg, Scores(probs, np.array([0.2])))
    np.testing.assert_allclose(soft.targets[:, 0], probs[:, 0], atol=1e-6)
    np.testing.assert_array_equal(soft.mask, hard.mask)
    np.testing.assert_array_equal(soft.positives, hard.positives)
    np.testing.assert_array_equal(soft.hard, hard.targets)


def test_alignment_scales_each_class_to_its_labeled_prior():
    probs = np.array([[0.8, 0.1], [0.4, 0.3], [0.0, 0.2]])
    pl = make_pseudo_labels(PseudoConfig(targets="soft", align=True), Scores(probs, np.array([0.2, 0.4])))
    np.testing.assert_allclose(pl.targets.mean(0), [0.2, 0.4], atol=1e-6)
    assert pl.targets.max() <= 1.0
    unaligned = make_pseudo_labels(PseudoConfig(targets="soft"), Scores(probs, np.array([0.2, 0.4])))
    np.testing.assert_array_equal(pl.positives, unaligned.positives)  # the ranking, so the decisions, stay


def test_unknown_target_kind_is_refused():
    with pytest.raises(UserError):
        PseudoConfig(targets="fuzzy").validate()


def test_classes_with_too_few_labeled_positives_get_no_pseudo_label_entry():
    probs = np.random.default_rng(0).random((20, 3))
    labeled_y = np.array([[1, 1, 0], [1, 0, 0], [1, 1, 0]])
    cfg = PseudoConfig(min_labeled_positives=2)
    pl = make_pseudo_labels(cfg, Scores(probs, np.array([0.5, 0.5, 0.0]), probs[:3], labeled_y))
    assert pl.mask[:, :2].all() and not pl.mask[:, 2].any()  # 3, 2 and 0 labeled positives
    with pytest.raises(UserError):
        PseudoConfig(min_labeled_positives=-1).validate()
