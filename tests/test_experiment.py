"""ssmll.evaluation.experiment: one variant trained and scored for a split and params, and the oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml
from test_trainer import synthetic
from tiny_params import REPO

from ssmll.core.config import from_params
from ssmll.data.split import class_priors, labeled_split
from ssmll.evaluation import metrics
from ssmll.evaluation.baselines import linear_probe
from ssmll.evaluation.experiment import (
    FOLDS,
    SECTIONS,
    Settings,
    VariantScore,
    labeled_part,
    labeled_rows,
    run_baselines,
    run_oracle,
    run_variant,
)
from ssmll.evaluation.metrics import mean_ap, tail_map
from ssmll.evaluation.scoring import ORACLES, PROBE_ORACLE
from ssmll.evaluation.workspace import Workspace
from ssmll.method.contexts import ContextsConfig, find_contexts
from ssmll.method.featureset import predict
from ssmll.method.trainer import TrainConfig
from ssmll.method.variants import LabeledPart, train_variant

SHORT = Settings(train=TrainConfig(epochs=2, warmup_epochs=1, batch_size=32, lr=0.01), contexts=ContextsConfig(k=2))


@pytest.fixture(scope="module")
def ws() -> Workspace:
    train, text = synthetic(120, 0)
    test, _ = synthetic(40, 1)
    labeled = labeled_split([f"train_{i}" for i in range(120)], 0.25, 0).labeled
    return Workspace(
        classes=["a", "b", "c", "d"],
        prompt_names=["an a", "a b", "a c", "a d"],
        encoder=None,  # type: ignore[arg-type]  # not read here
        text=text.numpy(),
        train=train,
        train_ids=[f"train_{i}" for i in range(120)],
        labeled=labeled,
        priors=class_priors(train.y[labeled]),
        test=test,
        test_ids=[f"test_{i}" for i in range(40)],
    )


def fit(ws: Workspace, variant: str, part: LabeledPart) -> torch.nn.Module:
    """The train stage's training of ``variant`` on ``part``."""
    return train_variant(variant, ws.train, ws.text, part, SHORT.model, SHORT.train, SHORT.pseudo).model


def test_labeled_rows_are_the_split_stage_s_and_a_fold_hides_some_of_them(ws):
    ids = ws.train_ids
    labeled, held_out = labeled_rows(ids, 0.25, 3)
    np.testing.assert_array_equal(labeled, labeled_split(ids, 0.25, 3).labeled)
    assert held_out is None
    folds = [labeled_rows(ids, 0.25, 3, fold) for fold in range(FOLDS)]
    assert sorted(np.concatenate([rows for _, rows in folds]).tolist()) == np.flatnonzero(labeled).tolist()
    for rest, rows in folds:
        assert not rest[rows].any() and (rest | np.isin(np.arange(len(ids)), rows) == labeled).all()


def test_labeled_part_is_what_the_split_and_contexts_stages_compute_from_the_labeled_rows(ws):
    part = labeled_part(ws, ws.labeled, SHORT.contexts)
    np.testing.assert_array_equal(part.priors, class_priors(ws.train.y[ws.labeled]))
    ctx = find_contexts(ws.train.y[ws.labeled], ws.text, 2, SHORT.contexts.smoothing, SHORT.contexts.seed)
    np.testing.assert_array_equal(part.membership, ctx.membership())


def test_run_variant_scores_the_test_set_or_the_held_out_fold(ws):
    labeled, held_out = labeled_rows(ws.train_ids, 0.25, 0, fold=1)
    model = fit(ws, "supervised", labeled_part(ws, labeled, SHORT.contexts))
    on_fold = run_variant("supervised", ws, 0.25, 0, SHORT, fold=1)
    assert on_fold == VariantScore(mean_ap(ws.train.y[held_out], predict(model, ws.train, held_out)))
    result = run_variant("method", ws, 0.25, 0, SHORT)
    assert 0 <= result.mAP <= 100 and result.pseudo_precision is not None and result.pseudo_recall is not None


def test_run_baselines_scores_every_baseline(ws):
    scores = run_baselines(ws, 0.25, 0, SHORT)
    assert list(scores) == ["zeroshot", "linear_probe", "zeroshot_label_specific"]
    assert all(s.pseudo_precision is None and 0 <= s.mAP <= 100 for s in scores.values())


def test_tail_map_takes_its_rare_classes_from_the_labeled_part(ws, monkeypatch):
    """With the cut raised above some classes' labeled prevalence, those classes are the tail the score reports."""
    assert run_baselines(ws, 0.25, 0, SHORT)["zeroshot"].tail_mAP is None  # no class of the synthetic set is rare
    labeled, _ = labeled_rows(ws.train_ids, 0.25, 0)
    priors = class_priors(ws.train.y[labeled])
    cut = float(np.sort(priors)[1]) + 1e-6  # the two rarest classes of the labeled part
    monkeypatch.setattr(metrics, "TAIL_PREVALENCE", cut)
    probe = linear_probe(ws.train.global_array(labeled), ws.train.y[labeled], c=SHORT.evaluate.linear_probe_c)
    scores = probe(ws.test.global_array())
    expected = tail_map(ws.test.y, scores, priors < cut)
    assert expected is not None
    assert run_baselines(ws, 0.25, 0, SHORT)["linear_probe"].tail_mAP == pytest.approx(expected)


def test_the_probe_oracle_learns_every_training_label(ws):
    probe = linear_probe(ws.train.global_array(), ws.train.y, c=SHORT.evaluate.linear_probe_c)
    expected = mean_ap(ws.test.y, probe(ws.test.global_array()))
    assert run_oracle(PROBE_ORACLE, ws, SHORT) == VariantScore(expected)


def test_the_supervised_oracle_trains_on_every_label(ws):
    everything = np.ones(len(ws.train), dtype=bool)
    model = fit(ws, "supervised", labeled_part(ws, everything, SHORT.contexts))
    expected = mean_ap(ws.test.y, predict(model, ws.test))
    assert run_oracle("supervised_all_labels", ws, SHORT) == VariantScore(expected)
    assert all("reported only" in note for note in ORACLES.values())
    with pytest.raises(ValueError, match="unknown oracle"):
        run_oracle("method_all_labels", ws, SHORT)


def test_settings_are_every_section_of_the_params_file():
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    settings = Settings.from_params(params)
    for name, config in SECTIONS.items():
        assert getattr(settings, name) == from_params(config, params[name], name)
