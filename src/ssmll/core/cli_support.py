"""What the command-line programs (the stage commands and ``ssmll``) share.

A :class:`~ssmll.core.errors.UserError` becomes one ``error:`` line on stderr and exit status
2, with no traceback; runtime knobs (batch size, workers, device) default from
``SSMLL_<NAME>`` environment variables, so that ``dvc repro`` can set them; the device
defaults to a GPU when there is one.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import torch
import typer

from ssmll.core.errors import UserError
from ssmll.core.runtime import Runtime


def user_errors(fn: Callable[..., None]) -> Callable[..., None]:
    """Turn a UserError into one line on stderr and exit status 2, with no traceback."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        try:
            fn(*args, **kwargs)
        except UserError as e:
            typer.echo(f"error: {e}", err=True)
            raise typer.Exit(2) from None

    return wrapper


def env_default(name: str, default: Any) -> Any:
    """A runtime knob's default from the environment (``SSMLL_<NAME>``)."""
    return type(default)(os.environ.get(f"SSMLL_{name}", default))


BATCH_SIZE_OPTION = typer.Option(
    env_default("BATCH_SIZE", Runtime.batch_size),
    min=1,
    help="Images per decoding batch (env SSMLL_BATCH_SIZE).",
)

WORKERS_OPTION = typer.Option(
    env_default("WORKERS", Runtime.workers), min=0, help="Decoding worker processes (env SSMLL_WORKERS)."
)

DEVICE_OPTION = typer.Option(
    "",
    envvar="SSMLL_DEVICE",
    show_envvar=False,
    help="cpu, cuda, cuda:1 ... (env SSMLL_DEVICE; default: cuda if available).",
)


def resolve_device(name: str, local_rank: int | None = None) -> str:
    """The torch device: ``name``, else cuda when available; under torchrun, ``cuda`` is this process's GPU."""
    name = name or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        kind = torch.device(name).type
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a device; use cpu, cuda or cuda:N") from None
    if kind == "cuda" and not torch.cuda.is_available():
        raise UserError(f"--device {name} asked for, but CUDA is not available here; use --device cpu")
    if name == "cuda" and local_rank is not None:
        return f"cuda:{local_rank}"
    return name
