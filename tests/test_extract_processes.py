"""Extraction as real processes: across two torchrun processes (gloo, CPU), and resumed after a SIGKILL.

Both must give the bytes of one uninterrupted process, file for file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from stage_runner import invoke, snapshot
from tiny_params import REPO, write_params

import ssmll.encoding.staging
import ssmll.encoding.store
from ssmll.data.tables import PreparedDataset, write_prepared
from stages.extract import cli

pytestmark = pytest.mark.slow

RUNTIME = ["--workers", "0", "--device", "cpu", "--no-progress"]
N_TRAIN, N_TEST = 24, 12
SHARD = 4  # small shards: 6 train + 3 test
HELPER = str(REPO / "tests" / "extract_process.py")
TORCHRUN = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


@pytest.fixture(scope="module")
def make_root(tmp_path_factory, tiny):
    """A new directory with params.yaml and the first tiny images prepared."""
    tables = {
        "train": tiny.dataset.tables["train"].slice(0, N_TRAIN),
        "test": tiny.dataset.tables["test"].slice(0, N_TEST),
    }

    def make(name: str) -> Path:
        root = write_params(tmp_path_factory.mktemp(name))
        write_prepared(
            PreparedDataset(tiny.dataset.classes, tiny.dataset.prompt_names, tables), root / "data" / "prepared"
        )
        return root

    return make


@pytest.fixture(scope="module")
def one_process(make_root):
    """The features of one uninterrupted in-process run: with the default shards, and with ``SHARD``-image shards."""
    out = {}
    for shard in (ssmll.encoding.store.SHARD_IMAGES, SHARD):
        root = make_root(f"one_{shard}")
        with pytest.MonkeyPatch.context() as mp:
            mp.chdir(root)
            mp.setattr(ssmll.encoding.store, "SHARD_IMAGES", shard)
            result = invoke(cli, *RUNTIME)
        assert result.exit_code == 0, result.output
        out[shard] = snapshot(root / "data" / "features")
    return out


def run(root: Path, *cmd: str, env: dict | None = None) -> str:
    proc = subprocess.run(cmd, cwd=root, env={**os.environ, **(env or {})}, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def test_dvc_repro_route_launcher_from_the_environment_gives_the_bytes_of_one_process(make_root, one_process):
    """``python -m stages.extract`` (dvc.yaml's cmd) with SSMLL_EXTRACT_LAUNCHER: one shard per split and process."""
    root = make_root("launcher")
    out = run(
        root,
        sys.executable,
        "-m",
        "stages.extract",
        *RUNTIME,
        env={"SSMLL_EXTRACT_LAUNCHER": " ".join(TORCHRUN), "PYTHONPATH": str(REPO)},
    )
    assert "x 2 processes (2 shards, 0 resumed)" in out
    assert snapshot(root / "data" / "features") == one_process[ssmll.encoding.store.SHARD_IMAGES]
    assert not (root / "data" / ".features.staging").exists()


def test_torchrun_shares_small_shards_between_processes_with_the_bytes_of_one(make_root, one_process):
    root = make_root("torchrun")
    out = run(root, *TORCHRUN, HELPER, str(SHARD), "--", *RUNTIME)
    assert "x 2 processes (9 shards, 0 resumed)" in out
    assert snapshot(root / "data" / "features") == one_process[SHARD]


def test_a_killed_extraction_resumes_with_only_the_missing_shards(make_root, one_process, monkeypatch):
    root = make_root("killed")
    proc = subprocess.Popen(
        [sys.executable, HELPER, str(SHARD), "3", "--", *RUNTIME],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "staged 3", proc.stderr.read()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    staged = sorted(p.name for p in (root / "data" / ".features.staging").glob("*/*/part-*.parquet"))
    assert staged == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
    assert not (root / "data" / "features").exists()

    encoded: list[int] = []
    real = ssmll.encoding.staging.encode_shards
    monkeypatch.setattr(
        ssmll.encoding.staging,
        "encode_shards",
        lambda t, shards, *a, **k: encoded.extend(map(len, shards)) or real(t, shards, *a, **k),
    )
    monkeypatch.chdir(root)
    monkeypatch.setattr(ssmll.encoding.store, "SHARD_IMAGES", SHARD)
    result = invoke(cli, *RUNTIME)
    assert result.exit_code == 0, result.output
    assert "(9 shards, 3 resumed)" in result.stdout
    assert sum(encoded) == N_TRAIN + N_TEST - 3 * SHARD
    assert snapshot(root / "data" / "features") == one_process[SHARD]
    assert not (root / "data" / ".features.staging").exists()
