"""The alignment model: identity start equals zero-shot label-specific scoring; ablation switch."""

import pytest
import torch
import torch.nn.functional as F

from ssmll.core.errors import UserError
from ssmll.encoding.zeroshot import aligned_cosine, attend, image_tokens, zeroshot_label_specific
from ssmll.method.model import AlignmentModel, ModelConfig

C, K, D, T = 6, 2, 16, 5


@pytest.fixture
def inputs():
    torch.manual_seed(0)
    text = torch.randn(C, D)
    membership = torch.zeros(C, K)
    membership[torch.arange(C), torch.tensor([0, 0, 0, 1, 1, 1])] = 1
    g = F.normalize(torch.randn(4, D), dim=-1)
    local = F.normalize(torch.randn(4, T, D), dim=-1)
    return text, membership, g, local


@pytest.mark.parametrize("with_global", [True, False])
def test_untrained_model_equals_zero_shot_label_specific_scores(inputs, with_global):
    text, membership, g, local = inputs
    cfg = ModelConfig(include_global_token=with_global, attn_scale=7.0, logit_scale=3.0, global_branch=False)
    model = AlignmentModel(text, membership, cfg)
    expected = zeroshot_label_specific(image_tokens(g, local, with_global), F.normalize(text, dim=-1), 7.0)
    logits, ctx_logits = model(g, local)
    assert torch.allclose(logits, 3.0 * expected, atol=1e-5)
    assert ctx_logits.shape == (4, K)


def test_zero_shot_label_specific_attends_to_the_matching_position():
    text = torch.eye(3)
    tokens = torch.stack([torch.eye(3)[[0, 1]], torch.eye(3)[[2, 2]]])  # image 0 holds classes 0, 1
    scores = zeroshot_label_specific(tokens, text, attn_scale=50.0)
    assert scores[0, 0] > 0.99 and scores[0, 1] > 0.99 and scores[0, 2] < 0.01
    assert scores[1, 2] > 0.99


def test_global_alignment_starts_as_cosine_of_the_global_embedding(inputs):
    text, membership, g, local = inputs
    model = AlignmentModel(text, membership, ModelConfig(alignment="global", logit_scale=1.0))
    logits, _ = model(g, local)
    assert torch.allclose(logits, g @ F.normalize(text, dim=-1).T, atol=1e-5)


def test_adapter_starts_as_identity_and_learns(inputs):
    text, membership, g, local = inputs
    plain = AlignmentModel(text, membership, ModelConfig(adapter_dim=0))
    adapted = AlignmentModel(text, membership, ModelConfig(adapter_dim=8))
    assert torch.allclose(plain(g, local)[0], adapted(g, local)[0], atol=1e-6)
    adapted(g, local)[0].sum().backward()
    assert adapted.adapter.fc2.weight.grad.abs().sum() > 0


def test_the_adapter_acts_on_the_pooled_features_not_on_each_token(inputs):
    """Each class's attended feature, and the global one, go through the adapter; the tokens attended over do not."""
    text, membership, g, local = inputs
    model = AlignmentModel(text, membership, ModelConfig(adapter_dim=8, global_branch=False, logit_scale=1.0))
    torch.nn.init.normal_(model.adapter.fc2.weight)
    tokens = torch.cat([local, g[:, None]], dim=1)
    pooled = attend(text, tokens, tokens, 10.0)
    expected = aligned_cosine(model.adapter(pooled), text)
    assert torch.allclose(model(g, local)[0], expected, atol=1e-5)


def test_every_learnable_part_gets_a_gradient(inputs):
    text, membership, g, local = inputs
    model = AlignmentModel(text, membership, ModelConfig())
    torch.nn.init.normal_(
        model.adapter.fc2.weight
    )  # zero at start, which holds the first layer's gradient at zero until it moves
    logits, ctx = model(g, local)
    (logits.pow(2).sum() + ctx.pow(2).sum()).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


@pytest.mark.parametrize("cfg", [ModelConfig(alignment="mean"), ModelConfig(attn_scale=0), ModelConfig(adapter_dim=-1)])
def test_impossible_model_params_are_user_errors(cfg):
    with pytest.raises(UserError):
        cfg.validate()


def test_global_branch_adds_the_global_alignment_to_the_label_specific_score(inputs):
    text, membership, g, local = inputs
    both = AlignmentModel(text, membership, ModelConfig(global_branch=True, logit_scale=3.0, attn_scale=7.0))
    expected = (
        zeroshot_label_specific(image_tokens(g, local, True), F.normalize(text, dim=-1), 7.0)
        + g @ F.normalize(text, dim=-1).T
    )
    assert torch.allclose(both(g, local)[0], 3.0 * expected, atol=1e-5)
    (both(g, local)[0].sum() + both(g, local)[1].sum()).backward()
    assert both.log_global_scale.grad is not None and both.log_global_scale.grad != 0


def test_weight_decay_pulls_the_maps_back_to_the_identity(inputs):
    """The maps are I + delta: decay shrinks delta, so a decayed map is still the zero-shot one (not zero)."""
    text, membership, g, local = inputs
    model = AlignmentModel(text, membership, ModelConfig())
    before = model(g, local)[0].detach()
    maps = [*model.q.parameters(), *model.v.parameters()]
    opt = torch.optim.AdamW(maps, lr=0.1, weight_decay=1.0)
    for p in maps:
        p.grad = torch.zeros_like(p)
    for _ in range(10):
        opt.step()
    assert torch.equal(model(g, local)[0], before)


def test_zero_shot_is_clips_label_specific_scoring_whatever_was_learned_and_draws_no_random_numbers(inputs):
    text, membership, g, local = inputs
    cfg = ModelConfig()
    model = AlignmentModel(text, membership, cfg)
    untrained = model(g, local)[0].detach()
    with torch.no_grad():
        model.text_residual.add_(1.0)
        model.bias.add_(2.0)
    state = torch.random.get_rng_state()
    start = model.zero_shot()
    assert torch.equal(torch.random.get_rng_state(), state)  # training runs stay on their own random stream
    clip_scores = cfg.logit_scale * zeroshot_label_specific(image_tokens(g, local, True), text, cfg.attn_scale)
    assert torch.allclose(start(g, local)[0], clip_scores, atol=1e-5)
    assert not torch.allclose(untrained, clip_scores, atol=1e-3)  # the model starts with its global branch too
    assert not torch.allclose(model(g, local)[0], untrained)
