"""Training an embedded CLIP: open_clip's own ``CLIP`` on a rendered corpus of its vocabulary.

AdamW with decay on matrices only, linear warm-up then cosine decay, the logit scale
clamped at 100 as open_clip does. Batches walk seeded permutations of the corpus and
every drawn image gets a fresh caption. Every ``eval_every`` steps the model is scored
zero-shot on the held-out validation images (global and label-specific), which is how
the recipe is judged; the downstream scenes are never looked at. On CPU, with the same
config and thread count, the weights come out bit for bit the same.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save

from ssmll.core.errors import UserError
from ssmll.core.files import atomic_path
from ssmll.data.scenes.prompts import DIGIT_TEMPLATES
from ssmll.data.scenes.vocabulary import vocabulary
from ssmll.encoding.clip import LoadedClip, encode_prompts
from ssmll.encoding.factory import create_encoder, dense_encoder
from ssmll.encoding.zeroshot import image_tokens, zeroshot_label_specific, zeroshot_scores
from ssmll.evaluation.average_precision import mean_ap
from ssmll.pretrain.corpus import CorpusConfig, RenderedImages, build_corpus, caption
from ssmll.pretrain.loss import sigmoid_pair_loss, soft_max_cosine, subset_targets


@dataclass(frozen=True)
class RecipeConfig:
    arch: str = "ssmll-digits-ViT-8"  # an architecture of ssmll/model_configs/
    init: str = "none"  # starting weights: none (random) or a checkpoint file of the same architecture
    threads: int = 2  # torch CPU threads: part of the recipe, as they fix the float summation order
    steps: int = 1500
    batch_size: int = 256
    lr: float = 1e-3
    warmup_fraction: float = 0.05
    weight_decay: float = 0.1
    betas: tuple[float, float] = (0.9, 0.98)
    eps: float = 1e-6
    token_weight: float = 0.3  # weight of the token-level term (0: global loss only)
    token_beta: float = 10.0  # inverse temperature of its soft maximum over patches
    seed: int = 0
    eval_every: int = 100
    eval_templates: tuple[str, ...] = DIGIT_TEMPLATES  # the prompt ensemble the pipeline uses
    eval_attn_scale: float = 10.0  # label-specific read-out's inverse temperature

    def validate(self) -> None:
        if self.threads < 1:
            raise UserError("recipe.threads must be at least 1")
        if self.steps < 1 or self.batch_size < 2 or self.eval_every < 1:
            raise UserError("recipe.steps and recipe.eval_every must be >= 1 and recipe.batch_size >= 2")
        if self.lr <= 0 or self.weight_decay < 0 or not 0.0 <= self.warmup_fraction < 1.0:
            raise UserError("recipe.lr must be positive, weight_decay >= 0 and warmup_fraction within [0, 1)")
        if self.token_weight < 0 or self.token_beta <= 0 or self.eval_attn_scale <= 0:
            raise UserError("recipe.token_weight must be >= 0, token_beta and eval_attn_scale positive")


@dataclass
class PretrainResult:
    clip: LoadedClip
    history: list[dict] = field(default_factory=list)
    seconds: float = 0.0


def pixels_to_input(pixels: np.ndarray, preprocess_cfg: dict) -> torch.Tensor:
    """(N, H, W, 3) uint8 to normalised (N, 3, H, W) floats, as CLIP's eval transform does at its own size."""
    x = torch.from_numpy(pixels).permute(0, 3, 1, 2).float() / 255.0
    mean = torch.tensor(preprocess_cfg["mean"]).view(1, 3, 1, 1)
    std = torch.tensor(preprocess_cfg["std"]).view(1, 3, 1, 1)
    return (x - mean) / std


def multihot(labels: list[frozenset[int]], n_classes: int) -> np.ndarray:
    y = np.zeros((len(labels), n_classes), dtype=np.float32)
    for i, d in enumerate(labels):
        y[i, sorted(d)] = 1.0
    return y


@torch.inference_mode()
def zero_shot(
    clip: LoadedClip, images: RenderedImages, names: list[str], templates: tuple[str, ...], attn_scale: float
) -> dict[str, float]:
    """Zero-shot mAP on ``images`` of classes ``names``: global embedding, and label-specific attention
    over the tokens."""
    clip.model.eval()
    encoder = dense_encoder(clip)
    text = encode_prompts(clip, names, list(templates))
    g, loc = zip(
        *(
            encoder(pixels_to_input(images.pixels[s : s + 256], clip.preprocess_cfg))
            for s in range(0, len(images.pixels), 256)
        )
    )
    g, loc = torch.cat(g), torch.cat(loc)
    y = multihot(images.labels, len(names))
    tokens = image_tokens(g, loc, include_global=True)
    return {
        "zeroshot_mAP": round(mean_ap(y, zeroshot_scores(g.numpy(), text.numpy())), 4),
        "label_specific_mAP": round(mean_ap(y, zeroshot_label_specific(tokens, text, attn_scale).numpy()), 4),
    }


def _optimizer(model: torch.nn.Module, cfg: RecipeConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only (not on norms, biases, scales)."""
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": cfg.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps)


def _lr_factor(step: int, cfg: RecipeConfig) -> float:
    warmup = int(cfg.warmup_fraction * cfg.steps)
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(cfg.steps - warmup, 1)))


def _batches(n: int, cfg: RecipeConfig, rng: np.random.Generator):
    """Image indices per step, walking a fresh permutation of the corpus each pass."""
    order = np.empty(0, dtype=np.int64)
    for _ in range(cfg.steps):
        if len(order) < cfg.batch_size:
            order = np.concatenate([order, rng.permutation(n)])
        yield order[: cfg.batch_size]
        order = order[cfg.batch_size :]


def pretrain(corpus_cfg: CorpusConfig, cfg: RecipeConfig, log: Callable[[dict], None] | None = None) -> PretrainResult:
    """Train ``cfg.arch`` from ``cfg.init`` on the rendered corpus; return the model and its curves.

    The caller sets the torch thread count (``cfg.threads``): the library keeps off global state.
    """
    cfg.validate()
    train, val = build_corpus(corpus_cfg)
    vocab = vocabulary(corpus_cfg.vocabulary)
    clip, encoder = create_encoder(cfg.arch, cfg.init, seed=cfg.seed)
    model = clip.model
    if model.logit_bias is None:
        raise UserError(f"{cfg.arch} has no logit bias; the sigmoid loss needs init_logit_bias in its config")
    opt = _optimizer(model, cfg)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, cfg))
    rng = np.random.default_rng([cfg.seed, 1])
    result = PretrainResult(clip)
    start = time.perf_counter()
    for step, idx in enumerate(_batches(len(train.labels), cfg, rng), start=1):
        model.train()
        captions = [caption(rng, train.labels[i], corpus_cfg, vocab) for i in idx]
        targets = subset_targets([train.labels[i] for i in idx], [named for _, named in captions])
        g, loc = encoder(pixels_to_input(train.pixels[idx], clip.preprocess_cfg))
        text = model.encode_text(clip.tokenizer([c for c, _ in captions]), normalize=True)
        scale, bias = model.logit_scale.exp(), model.logit_bias
        loss_global = sigmoid_pair_loss(scale * g @ text.T + bias, targets)
        loss_token = sigmoid_pair_loss(scale * soft_max_cosine(loc, text, cfg.token_beta) + bias, targets)
        loss = loss_global + cfg.token_weight * loss_token
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        with torch.no_grad():
            model.logit_scale.clamp_(0, math.log(100))
        if step % cfg.eval_every == 0 or step == cfg.steps:
            row = {
                "step": step,
                "lr": round(sched.get_last_lr()[0], 8),
                "loss_global": round(loss_global.item(), 4),
                "loss_token": round(loss_token.item(), 4),
                "logit_scale": round(scale.item(), 4),
                "logit_bias": round(bias.item(), 4),
                **{
                    f"val_{k}": v
                    for k, v in zero_shot(clip, val, vocab.names, cfg.eval_templates, cfg.eval_attn_scale).items()
                },
            }
            result.history.append(row)
            if log:
                log(row)
    result.seconds = time.perf_counter() - start
    return result


def save_weights(clip: LoadedClip, path: Path, metadata: dict[str, str]) -> None:
    """The model's weights as fp16 safetensors, atomically; loadable as any open_clip checkpoint."""
    state = {k: v.detach().to(torch.float16).contiguous() for k, v in clip.model.state_dict().items()}
    with atomic_path(path) as tmp:
        tmp.write_bytes(_sorted_metadata(save(state, metadata=metadata)))


def _sorted_metadata(blob: bytes) -> bytes:
    """``blob`` with its header's metadata in key order: safetensors writes it in hash order, which
    changes from run to run and, with it, the file's sha256. Same length, so no offset moves."""
    n = int.from_bytes(blob[:8], "little")
    header = json.loads(blob[8 : 8 + n])
    header["__metadata__"] = dict(sorted(header.get("__metadata__", {}).items()))
    text = json.dumps(header, separators=(",", ":")).encode()
    return blob[:8] + text.ljust(n) + blob[8 + n :]
