"""What every stage command shares: reading params.yaml, its options, reporting user errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import typer
import yaml

from ssmll.core.cli_support import DEVICE_OPTION, env_default, resolve_device, user_errors  # noqa: F401 - stages import these
from ssmll.core.config import from_params
from ssmll.core.errors import UserError

C = TypeVar("C")

PARAMS_OPTION = typer.Option(Path("params.yaml"), "--params", help="Params file (DVC's params.yaml).")
PREPARED_OPTION = typer.Option(Path("data/prepared"), help="Prepared tables (prepare's output).")
FEATURES_OPTION = typer.Option(Path("data/features"), help="Extracted features (extract's output).")
SPLIT_OPTION = typer.Option(Path("data/split"), "--split", help="Split assignment and priors (split's output).")


def app(help_text: str) -> typer.Typer:
    return typer.Typer(add_completion=False, pretty_exceptions_enable=False, help=help_text)


def load_params(path: Path, *sections: str) -> dict[str, Any]:
    """The named top-level sections of the params file, each required, as plain mappings."""
    if not path.is_file():
        raise UserError(f"params file {path} not found; run from the repository root or pass --params")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise UserError(f"{path} is not valid YAML: {str(e).splitlines()[0]}") from e
    missing = [s for s in sections if not isinstance(params.get(s), dict)]
    if missing:
        raise UserError(f"{path} has no '{missing[0]}' section; restore it from the repository's params.yaml")
    return {s: params[s] for s in sections}


def read_config(path: Path, section: str, cls: type[C]) -> C:
    """The params section ``section`` as its validated config dataclass (``ssmll.core.config``)."""
    return from_params(cls, load_params(path, section)[section], section)
