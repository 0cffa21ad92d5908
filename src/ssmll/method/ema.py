"""Exponential moving average of a model's weights: the teacher of the student."""

from __future__ import annotations

import copy

import torch


class EMA:
    """``teacher = d * teacher + (1 - d) * student`` after every step.

    ``d`` ramps up as ``min(decay, (1 + step) / (10 + step))`` so that the teacher is not
    stuck near its random start during short runs.
    """

    def __init__(self, model: torch.nn.Module, decay: float):
        if not 0.0 <= decay < 1.0:
            raise ValueError("EMA decay must be within [0, 1)")
        self.decay = decay
        self.model = copy.deepcopy(model).eval()
        for p in self.model.parameters():
            p.requires_grad_(False)

    @torch.no_grad()
    def update(self, student: torch.nn.Module, step: int | None = None) -> None:
        d = self.decay if step is None else min(self.decay, (1 + step) / (10 + step))
        pairs = list(zip(self.model.state_dict().values(), student.state_dict().values()))
        teacher, own = (list(x) for x in zip(*[(t, s.detach()) for t, s in pairs if t.dtype.is_floating_point]))
        # every tensor in one kernel per operation on a GPU (this runs every step); on the CPU the same per-tensor ops
        torch._foreach_mul_(teacher, d)
        torch._foreach_add_(teacher, own, alpha=1 - d)
        for t, s in pairs:
            if not t.dtype.is_floating_point:
                t.copy_(s)
