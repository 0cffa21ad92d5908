"""Training on in-memory features: determinism, batch mix, loss weighting, phases, learning, selection."""

import dataclasses

import numpy as np
import pytest
import torch

import ssmll.method.featureset
from ssmll.core.errors import UserError
from ssmll.evaluation.average_precision import mean_ap
from ssmll.method.featureset import FeatureSet, predict
from ssmll.method.losses import AsymmetricLoss
from ssmll.method.model import ModelConfig
from ssmll.method.pseudo import PseudoConfig, PseudoLabels
from ssmll.method.trainer import TrainConfig, Trainer

C, D, T, V = 4, 16, 4, 3
MEMBERSHIP = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], dtype=np.float32)


def synthetic(n: int, seed: int) -> tuple[FeatureSet, torch.Tensor]:
    """Images whose local tokens contain a noisy copy of each present class's direction."""
    rng = np.random.default_rng(seed)
    protos = np.random.default_rng(99).standard_normal((C, D)).astype(np.float32)
    y = (rng.random((n, C)) < 0.35).astype(np.float32)
    local = rng.standard_normal((n, V, T, D)).astype(np.float32)
    for i in range(n):
        for pos, k in enumerate(np.flatnonzero(y[i])[:T]):
            local[i, :, pos] += 3 * protos[k]
    local /= np.linalg.norm(local, axis=-1, keepdims=True)
    g = local.mean(2)
    text = torch.from_numpy(protos + rng.standard_normal((C, D)).astype(np.float32) * 2)  # weak "zero-shot" text
    return FeatureSet.from_arrays(g, local, y), text


def make_trainer(semi: bool = True, **overrides) -> Trainer:
    data, text = synthetic(240, 0)
    labeled = np.zeros(240, dtype=bool)
    labeled[:40] = True
    cfg = TrainConfig(**{"epochs": 4, "warmup_epochs": 1, "batch_size": 32, "lr": 0.01, **overrides})
    return Trainer(data, labeled, text, MEMBERSHIP, data.y[:40].mean(0), ModelConfig(), cfg, semi=semi)


def test_same_seed_gives_the_same_model():
    a, b = make_trainer().fit(), make_trainer().fit()
    for (k, va), vb in zip(a.model.state_dict().items(), b.model.state_dict().values()):
        assert torch.equal(va, vb), k
    assert a.history == b.history


def test_batches_mix_labeled_and_unlabeled_in_the_labeled_ratio():
    t = make_trainer()
    assert t._split_batch() == (32, 32)  # a batch of each part (CAP)
    t.cfg = dataclasses.replace(t.cfg, batch_mix="ratio")
    assert t._split_batch() == (5, 27)  # 32 * 40 / 240 = 5.3
    assert t._steps(0) == 8  # warm-up: the labeled part only, cycled for a pass over the pool's 240 images
    assert t._steps(1) == 8  # semi: 200 unlabeled / 27 per batch


@pytest.mark.parametrize("n_labeled", [12, 40, 120])
def test_warm_up_is_as_many_steps_at_any_labeled_ratio(n_labeled):
    """An epoch is ceil(pool / batch size) steps in every phase: 12 labeled images still warm up for 8 steps."""
    data, text = synthetic(240, 0)
    labeled = np.zeros(240, dtype=bool)
    labeled[:n_labeled] = True
    cfg = TrainConfig(epochs=2, warmup_epochs=1, batch_size=32)
    t = Trainer(data, labeled, text, MEMBERSHIP, data.y[:n_labeled].mean(0), ModelConfig(), cfg)
    warmup = list(t._batches(0))
    assert len(warmup) == 8 and all(len(lab) == 32 and unl is None for lab, unl in warmup)
    seen = np.concatenate([lab for lab, _ in warmup])
    assert np.bincount(seen, minlength=n_labeled).max() - np.bincount(seen, minlength=n_labeled).min() <= 1
    assert len(list(t._batches(1))) == 8


@pytest.mark.parametrize("n_labeled", [12, 40, 120])
def test_a_pseudo_labeled_image_weighs_what_a_labeled_one_does_at_any_ratio(n_labeled):
    """CAP's weighting: the loss is the sum of per-image losses over the batch / batch size, both parts alike."""
    data, text = synthetic(240, 0)
    one_view = FeatureSet.from_arrays(data.global_[:, :1].numpy(), data.local[:, :1].numpy(), data.y)
    labeled = np.zeros(240, dtype=bool)
    labeled[:n_labeled] = True
    cfg = TrainConfig(epochs=2, warmup_epochs=1, batch_size=32, context_weight=0.0, unlabeled_weight=1.0)
    t = Trainer(one_view, labeled, text, MEMBERSHIP, data.y[:n_labeled].mean(0), ModelConfig(), cfg)
    n_lab, n_unl = t._split_batch()
    lab_pos, unl_pos = np.arange(n_lab) % len(t.lab), np.arange(n_unl)
    lab, unl = t._images(t.lab, lab_pos, 0 * lab_pos), t._images(t.unl, unl_pos, 0 * unl_pos)
    truth = PseudoLabels(data.y[t.unl].copy(), np.ones_like(data.y[t.unl]))  # pseudo-labels that equal the truth
    total = t._losses(lab, unl, t._pseudo_targets(truth))["loss"]
    rows = np.concatenate([t.lab[lab_pos], t.unl[unl_pos]])
    logits, _ = t.student(*one_view.batch(rows))
    per_image = AsymmetricLoss()(logits, torch.from_numpy(data.y[rows]))
    assert torch.allclose(total, per_image.sum() / 32, atol=1e-6)
    t.unlabeled_weight = 0.5  # the weight in effect (the config's, times the zero-shot skill gate)
    expected = (per_image[:n_lab].sum() + 0.5 * per_image[n_lab:].sum()) / 32
    assert torch.allclose(t._losses(lab, unl, t._pseudo_targets(truth))["loss"], expected, atol=1e-6)


def test_weight_decay_spares_scales_and_biases():
    t = make_trainer(weight_decay=0.1)
    decayed = {id(p) for group in t.opt.param_groups if group["weight_decay"] > 0 for p in group["params"]}
    names = {n for n, p in t.student.named_parameters() if id(p) in decayed}
    assert names == {
        "text_residual",
        "context_residual",
        "q.delta",
        "v.delta",
        "adapter.fc1.weight",
        "adapter.fc2.weight",
    }


def test_labeled_images_learn_from_the_plain_view_too_only_when_asked(monkeypatch):
    views: list[np.ndarray] = []
    real = FeatureSet.batch
    monkeypatch.setattr(FeatureSet, "batch", lambda self, rows, v=0: views.append(np.asarray(v)) or real(self, rows, v))
    for setting, expected in (("strong", {1, 2}), ("all", {0, 1, 2})):
        views.clear()
        t = make_trainer(epochs=1, warmup_epochs=1, labeled_views=setting)
        t.fit()
        assert set(np.concatenate([v.ravel() for v in views if v.ndim])) == expected


def test_phases_and_pseudo_label_quality_are_recorded():
    history = make_trainer().fit().history
    assert [r["phase"] for r in history] == ["labeled", "semi", "semi", "semi"]
    assert "pseudo_precision" not in history[0]
    assert 0 <= history[-1]["pseudo_precision"] <= 100 and history[-1]["pseudo_recall"] > 0


def test_supervised_variant_never_uses_unlabeled_images():
    t = make_trainer(semi=False)
    history = t.fit().history
    assert all(r["phase"] == "labeled" and r["loss_unlabeled"] == 0 for r in history)


def test_training_beats_the_untrained_model():
    test, _ = synthetic(200, 1)
    trainer = make_trainer(epochs=8)
    before = mean_ap(test.y, predict(trainer.ema.model, test))
    after = mean_ap(test.y, predict(trainer.fit().model, test))
    assert after > before + 5


def test_select_on_test_keeps_the_best_epoch():
    test, _ = synthetic(100, 2)
    result = make_trainer(select_on_test=True).fit(test)
    best = max(result.history, key=lambda r: r["test_mAP"])
    assert result.best_epoch == best["epoch"] - 1
    assert mean_ap(test.y, predict(result.model, test)) == pytest.approx(best["test_mAP"], abs=1e-3)


@pytest.mark.parametrize(
    "overrides",
    [{"warmup_epochs": 9}, {"loss": "focal"}, {"context_weight": -1}, {"batch_size": 1}, {"unlabeled_full_skill": 1.5}],
)
def test_impossible_train_params_are_user_errors(overrides):
    with pytest.raises(UserError):
        TrainConfig(**{"epochs": 4, **overrides}).validate()


def test_training_gathers_batches_never_a_whole_part(monkeypatch):
    """No copy of the unlabeled (or labeled) part per epoch: every gather is one step's or one inference batch's."""
    sizes: list[int] = []
    real = FeatureSet.batch
    monkeypatch.setattr(
        FeatureSet, "batch", lambda self, rows, views=0: sizes.append(len(rows)) or real(self, rows, views)
    )
    monkeypatch.setattr(ssmll.method.featureset, "INFERENCE_BATCH", 64)
    trainer = make_trainer()
    trainer.fit()
    assert max(sizes) == 64  # the teacher scoring the 200 unlabeled images, 64 at a time
    assert 32 in sizes  # a step's labeled and unlabeled batches; warm-up steps
    assert trainer.data.local.dtype == torch.float16


def test_a_step_copies_nothing_from_the_host(monkeypatch):
    """Draws and targets reach the device once an epoch: a copy from the host per step would wait for the GPU."""
    assert host_arrays_made_tensors(monkeypatch, batch_size=32) == host_arrays_made_tensors(monkeypatch, batch_size=8)


def host_arrays_made_tensors(monkeypatch, batch_size: int) -> int:
    """NumPy arrays turned into tensors during a whole run (8 steps an epoch at batch size 32, 30 at 8)."""
    made: list[type] = []
    for name in ("from_numpy", "as_tensor"):
        real = getattr(torch, name)
        monkeypatch.setattr(torch, name, lambda a, *args, _f=real, **kw: made.append(type(a)) or _f(a, *args, **kw))
    make_trainer(batch_size=batch_size).fit()
    monkeypatch.undo()
    assert made.count(np.ndarray) > 0  # the counting saw the run's copies
    return made.count(np.ndarray)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_training_on_cuda_keeps_model_teacher_and_features_there():
    data, text = synthetic(240, 0)
    gpu = FeatureSet.from_arrays(data.global_.numpy(), data.local.numpy(), data.y, "cuda")
    labeled = np.zeros(240, dtype=bool)
    labeled[:40] = True
    cfg = TrainConfig(epochs=2, warmup_epochs=1, batch_size=32, lr=0.01)
    trainer = Trainer(gpu, labeled, text, MEMBERSHIP, data.y[:40].mean(0), ModelConfig(), cfg)
    result = trainer.fit()
    assert all(p.is_cuda for p in trainer.student.parameters()) and all(p.is_cuda for p in result.model.parameters())
    assert np.isfinite(result.history[-1]["loss"])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_features_left_in_host_memory_still_train_on_cuda():
    """Features too large for the GPU stay on the host (from_arrays): rows gathered there, the rest on the GPU."""
    data, text = synthetic(240, 0)
    host = FeatureSet(data.global_, data.local, data.y, torch.device("cuda", torch.cuda.current_device()))
    labeled = np.zeros(240, dtype=bool)
    labeled[:40] = True
    cfg = TrainConfig(epochs=2, warmup_epochs=1, batch_size=32, lr=0.01)
    trainer = Trainer(host, labeled, text, MEMBERSHIP, data.y[:40].mean(0), ModelConfig(), cfg)
    result = trainer.fit()
    assert not host.on_device and all(p.is_cuda for p in result.model.parameters())
    assert np.isfinite(result.history[-1]["loss"]) and result.history[-1]["phase"] == "semi"


def test_soft_pseudo_labels_set_context_targets_from_the_rules_decisions(monkeypatch):
    """Soft targets are probabilities, never exactly 0: contexts must come from the 0/1 decisions."""
    import ssmll.method.trainer as trainer_module

    t = make_trainer(unlabeled_weight=1.0)
    n = len(t.unl)
    decisions = np.zeros((n, C), np.float32)
    decisions[:, 0] = 1
    soft = PseudoLabels(np.full((n, C), 0.3, np.float32), np.ones((n, C), np.float32), decisions)
    seen = []
    real = trainer_module.context_targets
    monkeypatch.setattr(trainer_module, "context_targets", lambda y, m, mask=None: seen.append(y) or real(y, m, mask))
    targets = t._pseudo_targets(soft)
    np.testing.assert_array_equal(seen[-1], decisions)
    np.testing.assert_array_equal(targets.contexts.numpy()[:, 0], 1)  # context 0 holds class 0, decided everywhere


def test_the_zero_shot_co_teacher_scores_the_pool_once_with_the_untrained_model(monkeypatch):
    import ssmll.method.trainer as trainer_module

    calls = []
    real = trainer_module.zero_shot_scores
    monkeypatch.setattr(trainer_module, "zero_shot_scores", lambda *a: calls.append(a) or real(*a))
    data, text = synthetic(240, 0)
    labeled = np.zeros(240, dtype=bool)
    labeled[:40] = True
    cfg = TrainConfig(epochs=4, warmup_epochs=1, batch_size=32, lr=0.01)
    args = (data, labeled, text, MEMBERSHIP, data.y[:40].mean(0), ModelConfig(), cfg)
    with_prior = Trainer(*args, PseudoConfig(zeroshot_prior=20.0)).fit()
    assert len(calls) == 1  # three semi-supervised epochs, one zero-shot scoring
    expected = real(Trainer(*args).student, data, np.arange(40, 240), np.arange(40), PseudoConfig())
    np.testing.assert_allclose(real(*calls[0][:-1], PseudoConfig())[0], expected[0])
    without = Trainer(*args, PseudoConfig(zeroshot_prior=0.0)).fit()
    assert with_prior.history[-1]["pseudo_precision"] != without.history[-1]["pseudo_precision"]


@pytest.mark.parametrize("full_skill, expected", [(0.5, 0.0), (0.0, 0.3)])
def test_pseudo_labels_lose_their_weight_where_zero_shot_is_at_chance(full_skill, expected):
    """Text unrelated to the features (as with random CLIP weights): the gate takes the pseudo-labels' weight."""
    data, _ = synthetic(240, 0)
    unrelated = torch.from_numpy(np.random.default_rng(5).standard_normal((C, D)).astype(np.float32))
    labeled = np.zeros(240, dtype=bool)
    labeled[:40] = True
    cfg = TrainConfig(epochs=3, warmup_epochs=1, batch_size=32, lr=0.01, unlabeled_full_skill=full_skill)
    t = Trainer(data, labeled, unrelated, MEMBERSHIP, data.y[:40].mean(0), ModelConfig(), cfg)
    history = t.fit().history
    assert [row.get("unlabeled_weight") for row in history] == [None, expected, expected]
    assert make_trainer().fit().history[-1]["unlabeled_weight"] == 0.3  # text that knows the classes: in full
