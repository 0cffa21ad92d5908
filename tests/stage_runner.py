"""Running a stage command as DVC does (from the working directory), and checking how it fails."""

from __future__ import annotations

from pathlib import Path

import typer
from click.testing import Result
from typer.testing import CliRunner


def invoke(cli: typer.Typer, *args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file and folder under ``root``, with the files' bytes."""
    return {str(p.relative_to(root)): p.read_bytes() if p.is_file() else b"/" for p in sorted(root.rglob("*"))}


def assert_fails_cleanly(cli: typer.Typer, root: Path, *needles: str, args: tuple[str, ...] = ()) -> str:
    """The stage exits 2 with one ``error:`` line naming ``needles``, and leaves ``root`` as it was.

    An unchanged tree means both that no output was created or half-written and that an
    output of an earlier, valid run is still there, untouched.
    """
    before = snapshot(root)
    result = invoke(cli, *args)
    assert result.exit_code == 2, f"exit {result.exit_code}: {result.output}{result.exception!r}"
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0]
    assert snapshot(root) == before
    return lines[0]
