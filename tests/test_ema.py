"""EMA teacher."""

import pytest
import torch

from ssmll.method.ema import EMA


def test_ema_follows_the_formula_and_leaves_the_student_alone():
    student = torch.nn.Linear(2, 1)
    ema = EMA(student, decay=0.9)
    t0 = ema.model.weight.detach().clone()
    with torch.no_grad():
        student.weight.add_(1.0)
    ema.update(student)
    assert torch.allclose(ema.model.weight, 0.9 * t0 + 0.1 * student.weight)
    assert not any(p.requires_grad for p in ema.model.parameters())
    assert student.weight.requires_grad


def test_ema_ramps_its_decay_up_over_the_first_steps():
    student = torch.nn.Linear(1, 1, bias=False)
    ema = EMA(student, decay=0.99)
    with torch.no_grad():
        student.weight.fill_(1.0)
        ema.model.weight.fill_(0.0)
    ema.update(student, step=0)  # d = min(0.99, 1/10) = 0.1
    assert ema.model.weight.item() == pytest.approx(0.9)


def test_ema_rejects_an_impossible_decay():
    with pytest.raises(ValueError):
        EMA(torch.nn.Linear(1, 1), decay=1.0)
