"""A copy of this checkout as a fresh clone of it would have it, and running DVC in it."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import yaml
from tiny_params import REPO, repo_params

ENV = {**os.environ, "DVC_NO_ANALYTICS": "1"}


def copy_checkout(dest: Path, tiny: bool = True) -> Path:
    """This checkout's files as a fresh clone of them would have them, committed in a new git repo.

    The copy holds git's tracked and untracked-but-not-ignored files, as they are now (the
    committed metrics and dvc.lock included); with ``tiny`` its params.yaml has the tiny sizes.
    """
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=REPO,
            capture_output=True,
            check=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        if (REPO / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, dest / name)
    if tiny:
        (dest / "params.yaml").write_text(yaml.safe_dump(repo_params(absolute_checkpoint=False), sort_keys=False))
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.com"]
    subprocess.run(["git", "init", "-q", "-b", "main"], cwd=dest, check=True)
    subprocess.run(["git", "add", "-A"], cwd=dest, check=True)
    subprocess.run([*git, "commit", "-q", "-m", "copy"], cwd=dest, check=True)
    return dest


def run(cwd: Path, *cmd: str, env: dict[str, str] | None = None, timeout: int = 600) -> str:
    """Run ``cmd`` in ``cwd`` (with ``env`` added to the environment); its output, after asserting it succeeded."""
    proc = subprocess.run(cmd, cwd=cwd, env={**ENV, **(env or {})}, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr


def stages_run(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))
