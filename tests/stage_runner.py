"""Running a stage command as DVC does (from the working directory), and checking how it fails."""

from __future__ import annotations

import importlib
import shlex
import shutil
from pathlib import Path

import pytest
import typer
import yaml
from click.testing import Result
from tiny_params import REPO
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


def _paths(entries: list) -> list[str]:
    return [next(iter(e)) if isinstance(e, dict) else e for e in entries]


def upstream(stage: str, have: set[str]) -> list[str]:
    """The stages of dvc.yaml that ``stage`` needs, in run order, without those in ``have``."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    writes = {name: _paths(s.get("outs", []) + s.get("metrics", []) + s.get("plots", [])) for name, s in stages.items()}

    def needs(name: str) -> list[str]:
        deps = _paths(stages[name].get("deps", []))
        return [
            other
            for other, outs in writes.items()
            if any(d == o or d.startswith(o + "/") or o.startswith(d + "/") for d in deps for o in outs)
        ]

    order: list[str] = []

    def visit(name: str) -> None:
        for other in needs(name):
            if other not in order and other not in have and other != name:
                visit(other)
                order.append(other)

    visit(stage)
    return order


def run_as_dvc_would(name: str) -> Result:
    """Run stage ``name`` with the arguments of its ``cmd`` in dvc.yaml, in the working directory."""
    cmd = shlex.split(yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"][name]["cmd"])
    module = cmd[cmd.index("-m") + 1]
    return invoke(importlib.import_module(module).cli, *cmd[cmd.index("-m") + 2 :])


def run_through(root: Path, prepared: Path, features: Path, *last: str) -> Path:
    """In ``root``, with copies of ``prepared`` and ``features``, run the stages up to each of ``last``
    (and all they need) as dvc.yaml says; ``root``."""
    shutil.copytree(prepared, root / "data" / "prepared")
    shutil.copytree(features, root / "data" / "features")
    done = {"prepare", "extract"}
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        for target in last:
            for name in [*upstream(target, have=done), target]:
                result = run_as_dvc_would(name)
                assert result.exit_code == 0, f"{name}: {result.output}"
                done.add(name)
    return root
