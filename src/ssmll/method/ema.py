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
        for t, s in zip(self.model.state_dict().values(), student.state_dict().values()):
            if t.dtype.is_floating_point:
                t.mul_(d).add_(s.detach(), alpha=1 - d)
            else:
                t.copy_(s)
