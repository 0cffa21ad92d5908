"""Training variants: the labeled-only baseline's rules, and dvc.yaml tracking exactly the params each uses."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import yaml
from test_trainer import MEMBERSHIP, synthetic
from tiny_params import REPO

from ssmll.core.errors import UserError
from ssmll.method.model import ModelConfig
from ssmll.method.pseudo import PseudoConfig
from ssmll.method.trainer import TrainConfig
from ssmll.method.variants import (
    UNLABELED_ONLY,
    VARIANTS,
    LabeledPart,
    tracked_params,
    train_params,
    train_variant,
    variant_trainer,
)

STAGES = {"method": "train", "supervised": "train_supervised"}
SHORT = TrainConfig(epochs=3, warmup_epochs=1, batch_size=32, lr=0.01)


def fit(variant: str, **changes) -> dict[str, torch.Tensor]:
    data, text = synthetic(240, 0)
    labeled = np.zeros(240, dtype=bool)
    labeled[:40] = True
    pseudo_keys = {f.name for f in dataclasses.fields(PseudoConfig)}
    cfg = dataclasses.replace(SHORT, **{k: v for k, v in changes.items() if k not in pseudo_keys})
    pseudo = PseudoConfig(**{k: v for k, v in changes.items() if k in pseudo_keys})
    trainer = variant_trainer(variant, data, labeled, text, MEMBERSHIP, data.y[:40].mean(0), ModelConfig(), cfg, pseudo)
    return trainer.fit().model.state_dict()


def same(a: dict, b: dict) -> bool:
    return all(torch.equal(a[k], b[k]) for k in a)


def test_dvc_yaml_tracks_the_params_each_variant_uses():
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    assert set(STAGES) == set(VARIANTS)
    for variant, stage in STAGES.items():
        assert f"--variant {variant}" in stages[stage]["cmd"]
        assert stages[stage]["params"] == tracked_params(variant), stage
    assert tracked_params("method") == ["model", "train", "pseudo"]


def test_the_method_uses_every_train_param():
    assert train_params("method") == [f.name for f in dataclasses.fields(TrainConfig)]


CHANGES = {
    "unlabeled_weight": 0.5,
    "context_weight": 0.5,
    "threshold": "fixed",
    "pos_fraction": 0.5,
    "neg_fraction": 0.2,
}


def test_the_labeled_only_baseline_learns_the_same_whatever_the_params_it_ignores():
    assert set(CHANGES) - {"context_weight"} <= set(UNLABELED_ONLY) | {f.name for f in dataclasses.fields(PseudoConfig)}
    assert not set(CHANGES) & set(train_params("supervised"))
    assert same(fit("supervised"), fit("supervised", **CHANGES))
    assert not same(fit("supervised"), fit("supervised", lr=0.02))


@pytest.mark.parametrize("key", ["unlabeled_weight", "context_weight", "threshold", "pos_fraction"])
def test_those_params_change_what_the_method_learns(key):
    assert not same(fit("method"), fit("method", **{key: CHANGES[key]}))


def test_an_unknown_variant_is_a_user_error():
    with pytest.raises(UserError, match="unknown training variant 'semi'"):
        train_params("semi")


@pytest.mark.parametrize("variant", ["method", "supervised"])
def test_train_variant_is_the_variant_s_trainer_run_and_looks_at_the_test_set_only_to_select_on_it(variant):
    data, text = synthetic(240, 0)
    test, _ = synthetic(40, 1)
    labeled = np.zeros(240, dtype=bool)
    labeled[:40] = True
    part = LabeledPart(labeled, data.y[:40].mean(0), MEMBERSHIP)
    got = train_variant(variant, data, text.numpy(), part, ModelConfig(), SHORT, test=test)
    expected = variant_trainer(variant, data, labeled, text, MEMBERSHIP, part.priors, ModelConfig(), SHORT).fit()
    assert same(got.model.state_dict(), expected.model.state_dict()) and got.history == expected.history
    selecting = dataclasses.replace(SHORT, select_on_test=True)
    history = train_variant(variant, data, text.numpy(), part, ModelConfig(), selecting, test=test).history
    assert all("test_mAP" in row for row in history)
