"""The committed baseline: dvc.lock and the default run's metrics and plots, as this checkout makes them.

A copy of this checkout, as a fresh clone has it (committed dvc.lock and metrics, no data,
no DVC cache), must first look up to date to ``dvc status`` but for its missing outputs: a
changed dependency or param means the committed dvc.lock is stale. Then it runs the
default pipeline (``dvc repro``, the repository's own params) and ``dvc metrics diff``
against the committed metrics may show no change above :data:`TOLERANCE`; the plot files
must hold the same rows and columns, their numbers within it too. On failure, regenerate
the baseline: ``dvc repro`` and commit ``dvc.lock``, ``metrics/`` (and data/.gitignore).
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest
import yaml
from checkout import copy_checkout, run
from tiny_params import REPO

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]  # one default run: minutes, more on a loaded machine

#: Largest metric change a fresh run may show. Metrics are percentages (x100) or losses;
#: float sums differ in their last bits with the number of threads and the CPU's kernels,
#: and training carries those differences on: studies/baseline_tolerance.py measures them.
#: Plot numbers get the same bound, loose for the fractions among them (precision,
#: affinity), whose run the metrics already pin down; their rows and columns must be equal.
TOLERANCE = 0.05


@pytest.fixture(scope="module")
def fresh(tmp_path_factory) -> Path:
    return copy_checkout(tmp_path_factory.mktemp("baseline"), tiny=False)


def committed_outputs() -> dict[str, list[str]]:
    """Each stage's cache: false outputs (metrics and plots), which git holds."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {
        name: [next(iter(o)) for o in s.get("outs", []) + s.get("metrics", []) if isinstance(o, dict)]
        for name, s in stages.items()
    }


def test_the_baseline_files_are_committed(fresh):
    assert (fresh / "dvc.lock").is_file(), "dvc.lock is not committed; run dvc repro and commit it"
    missing = [p for files in committed_outputs().values() for p in files if not (fresh / p).is_file()]
    assert not missing, f"not committed: {missing}; run dvc repro and commit them"


def test_the_committed_lock_matches_this_checkout(fresh):
    status = json.loads(run(fresh, "dvc", "status", "--json"))
    stale = {
        stage: [change for change in changes if not _only_missing_outputs(change)] for stage, changes in status.items()
    }
    stale = {stage: changes for stage, changes in stale.items() if changes}
    assert not stale, f"dvc.lock is stale (run dvc repro and commit dvc.lock and metrics/): {stale}"


def _only_missing_outputs(change: dict | str) -> bool:
    """A change that only says files are not there yet (outputs, and deps that are other stages' outputs)."""
    if not isinstance(change, dict) or not set(change) <= {"changed outs", "changed deps"}:
        return False  # e.g. "changed command"
    return all(state in ("deleted", "not in cache") for files in change.values() for state in files.values())


@pytest.fixture(scope="module")
def rerun(fresh) -> Path:
    run(fresh, "dvc", "repro", timeout=3600)
    return fresh


def test_a_fresh_default_run_reproduces_the_committed_metrics(rerun):
    diff = json.loads(run(rerun, "dvc", "metrics", "diff", "--json"))
    moved = {
        f"{path}:{key}": change
        for path, changes in diff.items()
        for key, change in changes.items()
        if not _within(change.get("old"), change.get("new"))
    }
    assert not moved, f"the committed metrics are stale or the run is not deterministic enough: {moved}"


def test_a_fresh_default_run_reproduces_the_committed_plots(rerun):
    plots = [p for files in committed_outputs().values() for p in files if p.startswith("metrics/plots/")]
    for path in plots:
        committed = run(rerun, "git", "show", f"HEAD:{path}")
        with open(rerun / path) as f:
            fresh_rows, old_rows = list(csv.reader(f)), list(csv.reader(committed.splitlines()))
        assert fresh_rows[0] == old_rows[0] and len(fresh_rows) == len(old_rows), f"{path} changed shape"
        for new, old in zip(fresh_rows[1:], old_rows[1:]):
            assert len(new) == len(old) and all(_within(a, b) for a, b in zip(old, new)), f"{path}: {old} became {new}"


def _within(old: object, new: object) -> bool:
    """Equal, or numbers no more than TOLERANCE apart."""
    try:
        a, b = float(old), float(new)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return old == new
    return a == b or math.isclose(a, b, rel_tol=0, abs_tol=TOLERANCE)
