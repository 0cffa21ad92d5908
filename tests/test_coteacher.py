"""The zero-shot co-teacher: its skill on the labeled part, its per-class weights, the blend."""

import numpy as np
import pytest

from ssmll.method.coteacher import blend, class_weights, skill, skill_gate
from ssmll.method.pseudo import PseudoConfig, make_pseudo_labels
from ssmll.method.thresholds import Scores

PROBS = np.array([[0.9], [0.6], [0.3], [0.1]])
REVERSED = np.array([[-1.0], [0.2], [0.5], [3.0]])  # ranks the images the other way round


def test_the_blend_keeps_the_teachers_calibration_and_moves_its_ranking():
    np.testing.assert_array_equal(blend(PROBS, REVERSED, np.zeros(1)), PROBS)
    np.testing.assert_allclose(blend(PROBS, REVERSED, np.ones(1))[:, 0], [0.1, 0.3, 0.6, 0.9])
    np.testing.assert_allclose(blend(PROBS, REVERSED, np.full(1, 0.5))[:, 0], [0.5, 0.45, 0.45, 0.5])


def test_the_blend_weighs_each_class_on_its_own():
    probs, zero_shot = np.hstack([PROBS, PROBS]), np.hstack([REVERSED, REVERSED])
    out = blend(probs, zero_shot, np.array([0.0, 1.0]))
    np.testing.assert_array_equal(out[:, 0], PROBS[:, 0])
    np.testing.assert_allclose(out[:, 1], PROBS[::-1, 0])


def test_a_zero_shot_led_blend_changes_which_images_cap_calls_positive():
    priors = np.array([0.25])
    alone = make_pseudo_labels(PseudoConfig(), Scores(PROBS, priors))
    led = make_pseudo_labels(PseudoConfig(), Scores(blend(PROBS, REVERSED, np.full(1, 0.75)), priors))
    assert alone.positives[:, 0].tolist() == [True, False, False, False]
    assert led.positives[:, 0].tolist() == [False, False, False, True]


def test_skill_is_one_for_a_perfect_ranking_and_zero_at_chance_or_worse():
    y = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
    assert skill(y.astype(float), y) == 1.0
    assert skill(-y.astype(float), y) == 0.0
    noise = np.random.default_rng(0)
    big_y = noise.random((4000, 5)) < 0.3
    assert skill(noise.random((4000, 5)), big_y) == pytest.approx(0.0, abs=0.05)


def test_skill_skips_classes_without_labeled_positives_or_negatives():
    y = np.array([[1, 0, 1], [0, 0, 1]])
    assert skill(np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 1.0]]), y) == 1.0  # only class 0 counts
    assert skill(np.zeros((2, 1)), np.zeros((2, 1))) == 0.0


def test_the_skill_gate_keeps_full_weight_from_its_level_and_falls_to_none_at_chance():
    assert skill_gate(0.8, 0.5) == skill_gate(0.5, 0.5) == 1.0
    assert skill_gate(0.25, 0.5) == 0.5
    assert skill_gate(0.0, 0.5) == 0.0
    assert skill_gate(0.0, 0.0) == 1.0  # 0: the gate is off


def test_class_weights_are_a_prior_against_the_labeled_positives():
    y = np.zeros((20, 3), int)
    y[:10, 0], y[:1, 1] = 1, 1  # 10 positives, 1, none
    perfect = y.astype(float) + np.linspace(0, 0.1, 20)[:, None]
    perfect[:, 2] = 0.0
    w = class_weights(perfect, y, strength=10.0)  # skill 1 over classes 0 and 1
    np.testing.assert_allclose(w, [10 / 20, 10 / 11, 1.0])
    assert (class_weights(perfect, y, strength=0.0) == 0).all()
    assert (class_weights(-perfect, y, strength=10.0) == 0).all()  # no skill, no say
