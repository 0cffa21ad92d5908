"""Label-specific alignment of cached CLIP image features with class text features.

For class k, its text embedding (plus a learnable residual) attends over the image's
local embeddings: scaled cosine, softmax over positions. The attended sum is class k's
own image feature, scored against class k's text embedding by scaled cosine plus a bias:
C one-to-one alignments instead of C texts against one global vector. Contexts (groups
of co-occurring classes) are identified the same way, with one query per context, so
the context task shapes the shared query and value maps. The maps start as identities
(``I + delta`` with ``delta`` zero, so that weight decay pulls them back to the identity,
not to zero), so the untrained model without the global branch ranks exactly like CLIP's
zero-shot label-specific scoring.

With ``global_branch`` (the default) each class score also holds the global alignment's: the scaled
cosine of the (value-mapped) global embedding with the class text. The global embedding
is then not just one position among the T + 1 the class attends over, whose weight the
softmax spreads thin; the model contains the global-alignment model and can fall back on
it where the local tokens carry little of the class.

There is no separate key map: in the score q^T k = t^T Wq^T Wk x a key map only multiplies
the query map, and the query map acts on C + K rows while a key map would act on every
image token, the dominant cost of training. For the same reason the (linear) value map
is applied after pooling, and so is the adapter (``adapter_dim``): a zero-initialised
residual MLP on each feature a class is scored with, its attended one and the global one.
Linear maps on unit text and image vectors leave the model a cosine classifier, about as
strong as a linear probe on the labeled part; the adapter is what lets it go past one
(chosen by cross-validation on the labeled part, docs/method.md). On the pooled features
it costs a fraction of what it does on every token, for the same held-out mAP.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ssmll.core.errors import UserError
from ssmll.encoding.zeroshot import aligned_cosine, attend, image_tokens

ALIGNMENTS = ("label_specific", "global")


@dataclass(frozen=True)
class ModelConfig:
    alignment: str = "label_specific"
    include_global_token: bool = True
    attn_scale: float = 10.0
    logit_scale: float = 10.0
    adapter_dim: int = 256
    global_branch: bool = True

    def validate(self) -> None:
        if self.alignment not in ALIGNMENTS:
            raise UserError(f"model.alignment={self.alignment!r}; choose one of {', '.join(ALIGNMENTS)}")
        if self.attn_scale <= 0 or self.logit_scale <= 0:
            raise UserError("model.attn_scale and model.logit_scale must be positive")
        if self.adapter_dim < 0:
            raise UserError("model.adapter_dim must be >= 0 (0 disables the adapter)")


class Adapter(nn.Module):
    """Residual MLP on image features, ``x + W2 gelu(W1 x)``, with W2 zero: the identity at start."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.fc2 = nn.Linear(hidden, dim)
        nn.init.zeros_(self.fc2.weight)
        nn.init.zeros_(self.fc2.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.fc2(F.gelu(self.fc1(x)))


class IdentityPlus(nn.Module):
    """``x (I + delta)^T + bias``, with ``delta`` and ``bias`` zero: the identity at start.

    Weight decay acts on ``delta``, so it pulls the map towards the identity (the zero-shot
    model), where decaying a plain identity-initialised weight would shrink it towards zero.
    """

    def __init__(self, dim: int):
        super().__init__()
        self.delta = nn.Parameter(torch.zeros(dim, dim))
        self.bias = nn.Parameter(torch.zeros(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + F.linear(x, self.delta, self.bias)


class AlignmentModel(nn.Module):
    """Class scores (B, C) and context scores (B, K) from cached image features."""

    def __init__(self, text: torch.Tensor, membership: torch.Tensor, cfg: ModelConfig):
        super().__init__()
        cfg.validate()
        self.cfg = cfg
        c, d = text.shape
        self.register_buffer("text", F.normalize(text.float(), dim=-1))
        self.register_buffer("membership", membership.float().clone())
        context_text = F.normalize(membership.float().T @ self.text, dim=-1)
        self.register_buffer("context_text", context_text)
        self.text_residual = nn.Parameter(torch.zeros(c, d))
        self.context_residual = nn.Parameter(torch.zeros_like(context_text))
        self.q, self.v = IdentityPlus(d), IdentityPlus(d)
        self.adapter = Adapter(d, cfg.adapter_dim) if cfg.adapter_dim else nn.Identity()
        self.log_attn_scale = nn.Parameter(torch.tensor(math.log(cfg.attn_scale)))
        self.log_logit_scale = nn.Parameter(torch.tensor(math.log(cfg.logit_scale)))
        if cfg.global_branch and cfg.alignment == "label_specific":
            self.log_global_scale = nn.Parameter(torch.tensor(math.log(cfg.logit_scale)))
        self.bias = nn.Parameter(torch.zeros(c))
        self.context_bias = nn.Parameter(torch.zeros(context_text.shape[0]))

    def forward(self, global_: torch.Tensor, local: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        global_, local = global_.float(), local.float()
        texts = torch.cat([self.text + self.text_residual, self.context_text + self.context_residual])
        if self.cfg.alignment == "global":
            cos = self.global_cosines(global_, texts)
        else:
            cos = self.label_specific_cosines(global_, local, texts)
        logits = _scale(self.log_logit_scale) * cos
        if hasattr(self, "log_global_scale"):
            logits = logits + _scale(self.log_global_scale) * self.global_cosines(global_, texts)
        c = self.text.shape[0]
        return logits[:, :c] + self.bias, logits[:, c:] + self.context_bias

    def zero_shot(self) -> AlignmentModel:
        """CLIP's label-specific zero-shot scoring as an untrained model on the same texts (the co-teacher).

        Built without the adapter (an identity at start, whose random first layer would
        draw from the global random stream the training run depends on) and without the
        global branch, whose whole-image cosine, added at start to every class score, ranks
        far worse than the crops do: on the default test scenes the sum reads out 64.7 mAP,
        the label-specific scoring alone 74.5 (docs/semi-supervised.md).
        """
        cfg = dataclasses.replace(self.cfg, adapter_dim=0, global_branch=False)
        return AlignmentModel(self.text, self.membership, cfg).to(self.text.device)

    def global_cosines(self, global_: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        """(B, C + K) cosine of the mapped global embedding with each class and context text."""
        image = self.v(self.adapter(global_))[:, None]
        return aligned_cosine(image.expand(-1, texts.shape[0], -1), texts)

    def label_specific_cosines(self, global_: torch.Tensor, local: torch.Tensor, texts: torch.Tensor) -> torch.Tensor:
        """(B, C + K) cosine of each class's and context's own attended feature with its text."""
        tokens = image_tokens(global_, local, self.cfg.include_global_token)
        feats = self.v(self.adapter(attend(self.q(texts), tokens, tokens, self.log_attn_scale.exp())))
        return aligned_cosine(feats, texts)


def _scale(log_scale: torch.Tensor) -> torch.Tensor:
    return log_scale.clamp(max=math.log(100.0)).exp()
