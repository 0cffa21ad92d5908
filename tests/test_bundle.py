"""The model bundle: everything to label new images, in one file that torch reads with weights_only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from test_trainer import make_trainer, synthetic

from ssmll.core.errors import UserError
from ssmll.encoding.record import read_encoder_spec
from ssmll.method.featureset import predict
from ssmll.method.thresholds import cap_labels, decision_thresholds
from ssmll.serving.bundle import Bundle, load_bundle, save_bundle


@pytest.fixture(scope="module")
def bundle(tiny) -> Bundle:
    result = make_trainer(epochs=2).fit()
    unlabeled, _ = synthetic(50, 4)
    priors = np.array([0.3, 0.0, 0.5, 1.0])
    return Bundle(
        model=result.model,
        encoder=read_encoder_spec(tiny.features),
        classes=["a", "b", "c", "d"],
        prompt_names=["an a", "a b", "a c", "a d"],
        contexts=[["a", "b"], ["c", "d"]],
        thresholds=decision_thresholds(lambda rows: predict(result.model, unlabeled, rows), np.zeros(50, bool), priors),
        training={"variant": "method", "history": result.history},
    )


def test_round_trip_keeps_scores_and_everything_needed_to_predict(bundle, tmp_path):
    save_bundle(tmp_path / "m.pt", bundle)
    loaded = load_bundle(tmp_path / "m.pt")
    data, _ = synthetic(20, 3)
    np.testing.assert_array_equal(predict(loaded.model, data), predict(bundle.model, data))
    np.testing.assert_array_equal(loaded.thresholds, bundle.thresholds)
    assert loaded.encoder == bundle.encoder
    assert (loaded.classes, loaded.prompt_names, loaded.contexts) == (
        bundle.classes,
        bundle.prompt_names,
        bundle.contexts,
    )
    assert loaded.training == bundle.training


def test_the_file_holds_only_tensors_and_plain_values(bundle, tmp_path):
    save_bundle(tmp_path / "m.pt", bundle)
    payload = torch.load(tmp_path / "m.pt", weights_only=True)
    assert payload["format"] == "ssmll-model-bundle/1" and payload["encoder"]["model"] == bundle.encoder.model


def test_decision_thresholds_call_the_prior_fraction_of_the_unlabeled_part_positive(bundle):
    unlabeled, _ = synthetic(50, 4)
    scores = predict(bundle.model, unlabeled)
    priors = np.array([0.3, 0.0, 0.5, 1.0])
    np.testing.assert_array_equal(bundle.labels(scores), cap_labels(scores, priors))  # no ties in these scores
    assert bundle.thresholds[1] == np.inf


def test_files_that_are_not_bundles_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="not found; run the train stage first"):
        load_bundle(tmp_path / "none.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(UserError, match="is not a model bundle"):
        load_bundle(tmp_path / "junk.pt")
    torch.save({"state_dict": {}}, tmp_path / "old.pt")
    with pytest.raises(UserError, match="re-run the train stage"):
        load_bundle(tmp_path / "old.pt")
