"""dvc.yaml: each stage's deps cover every project file its command imports, transitively.

A module a stage imports but does not list (its loss targets, its config, a package's
``__init__``) could change what the stage computes without DVC re-running it. Imports
are read from the source (function-local ones included, ``if TYPE_CHECKING:`` blocks
left out), so the check needs no import of the stages themselves.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import yaml
from tiny_params import REPO

#: Every pipeline file's stages, by "file:stage"; their deps are relative to the repository
#: root (the embedded CLIP's and the label-efficiency study's pipelines run there: wdir ../..).
PIPELINES = (
    "dvc.yaml",
    "models/digit-clip/dvc.yaml",
    "models/objects-clip/dvc.yaml",
    "studies/label-efficiency/dvc.yaml",
)
STAGES = {f"{f}:{name}": s for f in PIPELINES for name, s in yaml.safe_load((REPO / f).read_text())["stages"].items()}
ROOTS = {"ssmll": REPO / "src", "stages": REPO}


def module_file(name: str) -> Path | None:
    """The source file of project module ``name`` (``ssmll.*`` under src/, ``stages.*``), or None."""
    parts = name.split(".")
    if parts[0] not in ROOTS:
        return None
    path = ROOTS[parts[0]].joinpath(*parts)
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


class _Imports(ast.NodeVisitor):
    def __init__(self, package: str):
        self.package, self.names = package, set()

    def visit_If(self, node: ast.If) -> None:
        test = ast.unparse(node.test)
        if test not in ("TYPE_CHECKING", "typing.TYPE_CHECKING"):
            self.generic_visit(node)
        else:
            for child in node.orelse:
                self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        self.names |= {alias.name for alias in node.names}

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            base = self.package.split(".")[: len(self.package.split(".")) - node.level + 1]
            module = ".".join(base + ([node.module] if node.module else []))
        else:
            module = node.module or ""
        self.names |= {module, *(f"{module}.{alias.name}" for alias in node.names)}  # a name may be a submodule


def imported_files(module: str) -> set[Path]:
    """Every project file that importing ``module`` executes: its imports, theirs, and their packages."""
    seen: dict[str, Path] = {}
    todo = [module]
    while todo:
        parts = todo.pop().split(".")
        for i in range(1, len(parts) + 1):
            name = ".".join(parts[:i])
            path = module_file(name)
            if path is None or name in seen:
                continue
            seen[name] = path
            package = name if path.name == "__init__.py" else name.rpartition(".")[0]
            visitor = _Imports(package)
            visitor.visit(ast.parse(path.read_text()))
            todo.extend(visitor.names)
    return set(seen.values())


def command_files(cmd: str) -> set[Path]:
    """Every project file a stage's command runs: a module's (``python -m stages.x``) or a script's
    (``python studies/x.py``), with what they import."""
    words = cmd.split()
    if words[1] == "-m":
        return imported_files(words[2])
    script = REPO / words[1]
    visitor = _Imports("")
    visitor.visit(ast.parse(script.read_text()))
    return {script, *(f for name in visitor.names for f in imported_files(name))}


def covered(path: Path, deps: list[str]) -> bool:
    rel = path.relative_to(REPO)
    return any(rel == Path(d) or Path(d) in rel.parents for d in deps)


def test_imports_are_followed_through_packages_and_function_bodies():
    files = {p.relative_to(REPO).as_posix() for p in imported_files("stages.prepare")}
    assert {"stages/__init__.py", "stages/_cli.py", "src/ssmll/__init__.py", "src/ssmll/data/scenes/digits.py"} <= files
    assert "src/ssmll/encoding/clip.py" not in {
        p.relative_to(REPO).as_posix() for p in imported_files("ssmll.encoding.record")
    }


@pytest.mark.parametrize(
    "stage", [s for s in STAGES if STAGES[s]["cmd"].startswith(("python -m stages.", "python studies/"))]
)
def test_stage_deps_cover_every_project_module_it_imports(stage):
    deps = [d if isinstance(d, str) else next(iter(d)) for d in STAGES[stage]["deps"]]
    files = command_files(STAGES[stage]["cmd"])
    missing = sorted(p.relative_to(REPO).as_posix() for p in files if not covered(p, deps))
    assert not missing, f"stage {stage} imports but does not list: {', '.join(missing)}"


def test_the_clip_pretraining_imports_no_method_module():
    """Editing the method must leave the embedded CLIP's stage up to date (its rebuild takes half an hour)."""
    files = {p.relative_to(REPO).as_posix() for p in imported_files("stages.pretrain_clip")}
    assert not [f for f in files if f.startswith("src/ssmll/method/")]
