"""Training the alignment model on cached features held in memory, on their device.

Every epoch is as many steps as one pass over the whole training pool takes
(``ceil(n / batch_size)``), whatever the labeled ratio and the phase, so that the warm-up
is long enough at 5 % labels as at 50 % and the labeled-only baseline gets as many steps
as the method. Warm-up epochs learn from labeled images only, cycling through them. Each
semi-supervised epoch then starts
with the EMA teacher scoring the unlabeled images' plain view (view 0); a threshold rule
turns those scores into pseudo-labels. The student learns on strong views (a random
cached view >= 1) from labels and pseudo-labels, plus ``context_weight`` times the
context loss whose targets come from the labels or (masked like them) the pseudo-labels.
Each semi-supervised step takes ``batch_size`` labeled images (cycled) and as many
unlabeled ones, as CAP and FixMatch do (``batch_mix: ratio`` splits one batch in the
labeled ratio instead, which leaves 3 labeled images a step at 5 % labels). The hidden labels of the
unlabeled part are used only to report how good the pseudo-labels are, never to train.

Every loss is a sum over images divided by the batch size, as in CAP: a pseudo-labeled
image weighs what a labeled one does (times ``unlabeled_weight``), whatever the labeled
ratio, and its context targets weigh the same. Where CLIP's zero-shot ranking of the labeled
part is weak (random weights, a vocabulary it does not know), the features do not carry
the classes and the EMA teacher's pseudo-labels cost accuracy (measured: 27 % precise,
-0.37 mAP at 20 % labels on random weights): their weight falls with the zero-shot skill
below ``unlabeled_full_skill`` (:func:`ssmll.method.coteacher.skill_gate`).

The student and its EMA teacher live on the feature set's device (a GPU when there is
one). Each epoch's draws (rows and views of every step) and each part's targets are copied
there once, and every batch is gathered there: a step copies nothing from the host, so it
never waits for the GPU to drain (a copy from pageable host memory would).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from ssmll.core.errors import UserError
from ssmll.evaluation.average_precision import mean_ap
from ssmll.method.contexts import context_targets
from ssmll.method.coteacher import skill, skill_gate
from ssmll.method.ema import EMA
from ssmll.method.featureset import FeatureSet, predict
from ssmll.method.losses import LOSSES
from ssmll.method.model import AlignmentModel, ModelConfig
from ssmll.method.pseudo import PseudoConfig, PseudoLabels, label_pool, zero_shot_scores

LOSS_KEYS = ("loss", "loss_labeled", "loss_unlabeled", "loss_context")

#: Which cached views labeled images learn from: the strong ones (1..V-1), or all (the plain view 0 too).
LABELED_VIEWS = ("strong", "all")


@dataclass(frozen=True)
class TrainConfig:
    epochs: int = 20
    warmup_epochs: int = 5
    batch_size: int = 64
    lr: float = 1e-4
    weight_decay: float = 1e-4
    ema_decay: float = 0.99
    loss: str = "asl"
    gamma_neg: float = 4.0
    gamma_pos: float = 0.0
    clip: float = 0.05
    focal_grad: bool = False
    unlabeled_weight: float = 0.3
    unlabeled_full_skill: float = 0.5  # zero-shot skill from which pseudo-labels weigh in full (0: always)
    context_weight: float = 0.0  # chosen by CV on the labeled part of two worlds: docs/semi-supervised.md
    labeled_views: str = "strong"
    batch_mix: str = "equal"
    seed: int = 0
    select_on_test: bool = False

    def validate(self) -> None:
        if self.epochs < 1 or not 0 <= self.warmup_epochs <= self.epochs:
            raise UserError("train.epochs must be >= 1 and train.warmup_epochs within [0, epochs]")
        if self.batch_size < 2:
            raise UserError("train.batch_size must be at least 2")
        if self.lr <= 0 or self.weight_decay < 0:
            raise UserError("train.lr must be positive and train.weight_decay non-negative")
        if self.loss not in LOSSES:
            raise UserError(f"train.loss={self.loss!r}; choose one of {', '.join(LOSSES)}")
        if self.context_weight < 0 or self.unlabeled_weight < 0:
            raise UserError("train.context_weight and train.unlabeled_weight must be non-negative")
        if not 0.0 <= self.unlabeled_full_skill <= 1.0:
            raise UserError("train.unlabeled_full_skill must be within [0, 1] (0: pseudo-labels always weigh in full)")
        if self.batch_mix not in ("equal", "ratio"):
            raise UserError(f"train.batch_mix={self.batch_mix!r}; choose equal or ratio")
        if self.labeled_views not in LABELED_VIEWS:
            raise UserError(f"train.labeled_views={self.labeled_views!r}; choose one of {', '.join(LABELED_VIEWS)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise UserError("train.ema_decay must be within [0, 1)")


@dataclass
class TrainResult:
    model: AlignmentModel
    history: list[dict] = field(default_factory=list)
    best_epoch: int = -1


@dataclass(frozen=True)
class _Images:
    """Some images of one part: positions in the part (for its targets), rows and views (for the features)."""

    pos: torch.Tensor
    rows: torch.Tensor
    views: torch.Tensor

    def step(self, s: int) -> _Images:
        """Step ``s``'s images, from an epoch's (steps, n) draws."""
        return _Images(self.pos[s], self.rows[s], self.views[s])


@dataclass(frozen=True)
class _Targets:
    """A part's targets by position, on the training device: classes and contexts, with their loss masks.

    A mask of None keeps every entry (true labels).
    """

    classes: torch.Tensor
    contexts: torch.Tensor
    class_mask: torch.Tensor | None = None
    context_mask: torch.Tensor | None = None


class Trainer:
    """One training run: the method (``semi=True``) or its labeled-only baseline."""

    def __init__(
        self,
        train: FeatureSet,
        labeled: np.ndarray,
        text: torch.Tensor,
        membership: np.ndarray,
        priors: np.ndarray,
        model_cfg: ModelConfig,
        cfg: TrainConfig,
        pseudo: PseudoConfig = PseudoConfig(),
        semi: bool = True,
    ):
        cfg.validate()
        pseudo.validate()
        self.data, self.cfg, self.pseudo_cfg, self.semi = train, cfg, pseudo, semi
        self.lab = np.flatnonzero(labeled)
        self.unl = np.flatnonzero(~labeled)
        if len(self.lab) == 0:
            raise UserError("no labeled images; raise split.lb_ratio")
        self.membership, self.priors = membership, priors
        self.n_views = train.views
        self.device = train.device
        y_lab = train.y[self.lab]
        self.lab_targets = _Targets(self._on_device(y_lab), self._on_device(context_targets(y_lab, membership)[0]))
        torch.manual_seed(cfg.seed)
        self.rng = np.random.default_rng(cfg.seed)
        self.student = AlignmentModel(text, torch.from_numpy(membership), model_cfg).to(self.device)
        self.ema = EMA(self.student, cfg.ema_decay)
        self.opt = torch.optim.AdamW(_decay_groups(self.student, cfg.weight_decay), lr=cfg.lr)
        total = sum(self._steps(e) for e in range(cfg.epochs))
        self.loss = LOSSES[cfg.loss](cfg)
        self.sched = torch.optim.lr_scheduler.LambdaLR(self.opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / total)))
        self.step = 0
        self._zero_shot: tuple[np.ndarray, np.ndarray] | None = None
        self.unlabeled_weight = cfg.unlabeled_weight  # scaled by the zero-shot skill at the first pseudo-labels

    def _is_semi(self, epoch: int) -> bool:
        return self.semi and epoch >= self.cfg.warmup_epochs and len(self.unl) > 0

    def _split_batch(self) -> tuple[int, int]:
        """Labeled and unlabeled images per semi-supervised step: a batch of each, or one batch in the labeled ratio."""
        b = self.cfg.batch_size
        if self.cfg.batch_mix == "equal":
            return b, b
        n_lab = min(b - 1, max(1, round(b * len(self.lab) / (len(self.lab) + len(self.unl)))))
        return n_lab, b - n_lab

    def _steps(self, epoch: int) -> int:
        """Steps per epoch: one pass over the training pool's worth of images, in every phase."""
        return math.ceil((len(self.lab) + len(self.unl)) / self.cfg.batch_size)

    def fit(self, test: FeatureSet | None = None, log: Callable[[dict], None] | None = None) -> TrainResult:
        """Train for ``cfg.epochs``; return the EMA teacher (best-on-test only if asked)."""
        result = TrainResult(self.ema.model)
        best_map, best_state = -1.0, None
        for epoch in range(self.cfg.epochs):
            row = self._epoch(epoch)
            if test is not None:
                row["test_mAP"] = round(mean_ap(test.y, predict(self.ema.model, test)), 4)
                if self.cfg.select_on_test and row["test_mAP"] > best_map:
                    best_map, result.best_epoch = row["test_mAP"], epoch
                    best_state = {k: v.clone() for k, v in self.ema.model.state_dict().items()}
            result.history.append(row)
            if log:
                log(row)
        if best_state is not None:
            self.ema.model.load_state_dict(best_state)
        return result

    def _epoch(self, epoch: int) -> dict:
        semi = self._is_semi(epoch)
        row: dict = {"epoch": epoch + 1, "phase": "semi" if semi else "labeled", "lr": self.sched.get_last_lr()[0]}
        unl_targets = None
        if semi:
            pseudo = self._pseudo_labels()
            row["unlabeled_weight"] = round(self.unlabeled_weight, 6)
            row.update(pseudo_quality(pseudo, self.data.y[self.unl]))
            unl_targets = self._pseudo_targets(pseudo)
        # float64 sums on the device, added in the order Python floats were: the same values, no sync per step
        sums = {k: torch.zeros((), dtype=torch.float64, device=self.device) for k in LOSS_KEYS}
        self.student.train()
        lab, unl = self._draws(epoch)
        for s in range(self._steps(epoch)):
            parts = self._losses(lab.step(s), unl.step(s) if unl else None, unl_targets)
            loss = parts["loss"]
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            self.sched.step()
            self.step += 1
            self.ema.update(self.student, self.step)
            for k, v in parts.items():
                sums[k] += v.detach().double()
        steps = max(self._steps(epoch), 1)
        row.update({k: round(v.item() / steps, 6) for k, v in sums.items()})
        return row

    def _pseudo_labels(self) -> PseudoLabels:
        reads_zero_shot = self.pseudo_cfg.zeroshot_prior > 0 or self.cfg.unlabeled_full_skill > 0
        if reads_zero_shot and self._zero_shot is None:  # fixed: scored once, not every epoch
            self._zero_shot = zero_shot_scores(self.student, self.data, self.unl, self.lab, self.pseudo_cfg)
            gate = skill_gate(skill(self._zero_shot[1], self.data.y[self.lab]), self.cfg.unlabeled_full_skill)
            self.unlabeled_weight = self.cfg.unlabeled_weight * gate
        _, pseudo = label_pool(
            self.ema.model, self.data, self.unl, self.lab, self.priors, self.pseudo_cfg, self._zero_shot
        )
        return pseudo

    def _pseudo_targets(self, pseudo: PseudoLabels) -> _Targets:
        """The unlabeled part's targets: pseudo-labels, and contexts from the rule's 0/1 decisions, with masks."""
        contexts, context_mask = context_targets(pseudo.hard, self.membership, pseudo.mask)
        to = self._on_device
        return _Targets(to(pseudo.targets), to(contexts), to(pseudo.mask), to(context_mask))

    def _draws(self, epoch: int) -> tuple[_Images, _Images | None]:
        """Every step's labeled and unlabeled images (None in warm-up), drawn as the steps would draw them, copied once.

        The order of draws is the steps': the epoch's orders, then per step the labeled
        images' views and the unlabeled ones'.
        """
        lab: list[tuple[np.ndarray, np.ndarray]] = []
        unl: list[tuple[np.ndarray, np.ndarray]] = []
        for lab_pos, unl_pos in self._batches(epoch):
            lab.append((lab_pos, self._strong_views(len(lab_pos), self.cfg.labeled_views == "all")))
            if unl_pos is not None:
                unl.append((unl_pos, self._strong_views(len(unl_pos))))
        return self._images(self.lab, *map(np.stack, zip(*lab))), (
            self._images(self.unl, *map(np.stack, zip(*unl))) if unl else None
        )

    def _images(self, part: np.ndarray, pos: np.ndarray, views: np.ndarray) -> _Images:
        """Positions in ``part`` on the training device; their rows and views where the features live."""
        where = self.data.local.device
        return _Images(
            self._on_device(pos),
            torch.from_numpy(part[pos]).to(where, non_blocking=True),
            torch.from_numpy(views).to(where, non_blocking=True),
        )

    def _batches(self, epoch: int):
        """Yield (labeled positions, unlabeled positions) per step; positions index lab / unl."""
        steps = self._steps(epoch)
        if not self._is_semi(epoch):
            b = self.cfg.batch_size
            order = self._cycled(len(self.lab), steps * b)
            for s in range(steps):
                yield order[s * b : (s + 1) * b], None
            return
        n_lab, n_unl = self._split_batch()
        unl_order, lab_order = self._cycled(len(self.unl), steps * n_unl), self._cycled(len(self.lab), steps * n_lab)
        for s in range(steps):
            yield lab_order[s * n_lab : (s + 1) * n_lab], unl_order[s * n_unl : (s + 1) * n_unl]

    def _cycled(self, n: int, count: int) -> np.ndarray:
        """``count`` positions of ``range(n)``: fresh permutations one after another, each position once per round."""
        return np.concatenate([self.rng.permutation(n) for _ in range(math.ceil(count / n))])[:count]

    def _strong_views(self, n: int, plain_too: bool = False) -> np.ndarray:
        """A random cached view per image: a strong one (>= 1), or any view with ``plain_too``."""
        if self.n_views == 1:
            return np.zeros(n, dtype=np.int64)
        return self.rng.integers(0 if plain_too else 1, self.n_views, size=n)

    def _on_device(self, array: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(array).to(self.device, non_blocking=True)

    def _losses(self, lab: _Images, unl: _Images | None, unl_targets: _Targets | None) -> dict:
        """Each part's per-image losses summed and divided by the batch size (CAP's weighting)."""
        per_image = self.cfg.batch_size
        classes, contexts = self._summed_losses(lab, self.lab_targets)
        loss_lab = classes / per_image
        loss_ctx = contexts / per_image
        loss_unl = torch.zeros((), device=self.device)
        w = self.unlabeled_weight
        if unl is not None and unl_targets is not None and len(unl.pos):
            classes_u, contexts_u = self._summed_losses(unl, unl_targets)
            loss_unl = classes_u / per_image
            loss_ctx = loss_ctx + w * contexts_u / per_image
        total = loss_lab + w * loss_unl + self.cfg.context_weight * loss_ctx
        return {
            "loss": total,
            "loss_labeled": loss_lab.detach(),
            "loss_unlabeled": loss_unl.detach(),
            "loss_context": loss_ctx.detach(),
        }

    def _summed_losses(self, images: _Images, targets: _Targets) -> tuple[torch.Tensor, torch.Tensor]:
        """The student's class and context losses on ``images``, each summed over the images."""
        logits, context_logits = self.student(*self.data.batch(images.rows, images.views))
        at = images.pos
        class_mask = None if targets.class_mask is None else targets.class_mask[at]
        context_mask = None if targets.context_mask is None else targets.context_mask[at]
        return (
            self.loss(logits, targets.classes[at], class_mask).sum(),
            self.loss(context_logits, targets.contexts[at], context_mask).sum(),
        )


def _decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Weight decay on matrices only (map deltas, residuals, adapter weights), never on scales or biases."""
    params = [p for p in model.parameters() if p.requires_grad]
    return [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]


def pseudo_quality(pseudo: PseudoLabels, y_true: np.ndarray) -> dict:
    """Precision and recall (x100) of the confident pseudo-positives against hidden labels."""
    pred = pseudo.positives
    truth = y_true > 0
    tp = float((pred & truth).sum())
    return {
        "pseudo_precision": round(100 * tp / max(int(pred.sum()), 1), 4),
        "pseudo_recall": round(100 * tp / max(int(truth.sum()), 1), 4),
    }
