"""What the command-line programs (the stage commands and ``ssmll``) share.

A :class:`~ssmll.errors.UserError` becomes one ``error:`` line on stderr and exit status
2, with no traceback; runtime knobs (batch size, workers, device) default from
``SSMLL_<NAME>`` environment variables, so that ``dvc repro`` can set them.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

import typer

from ssmll.errors import UserError


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
