"""`ssmll predict` on a trained tiny model: scores equal evaluate's, outputs, decisions, bad input."""

from __future__ import annotations

import csv
import importlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import tomllib
from stage_runner import run_through, snapshot
from tiny_params import REPO, write_params
from typer.testing import CliRunner

from ssmll.serving.bundle import load_bundle
from ssmll.serving.cli import app
from ssmll.serving.predictor import decide, find_images

FAST = {"split.lb_ratio": 0.5, "train.epochs": 2, "train.warmup_epochs": 1, "train.batch_size": 16}
RUNTIME = ["--workers", "0", "--device", "cpu", "--no-progress"]
N = 6


def ssmll(*args: str):
    return CliRunner().invoke(app, list(args))


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, tiny) -> Path:
    """A working directory after evaluate, with the first test scenes exported as PNG files."""
    root = run_through(write_params(tmp_path_factory.mktemp("predict"), FAST), tiny.prepared, tiny.features, "evaluate")
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(root)
        result = ssmll("export-images", "scenes", "--limit", str(N))
        assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def in_evaluated(evaluated, monkeypatch) -> Path:
    monkeypatch.chdir(evaluated)
    return evaluated


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def test_export_writes_the_scenes_and_a_manifest_of_their_labels(in_evaluated, tiny):
    table = tiny.dataset.tables["test"].slice(0, N).to_pylist()
    for row in table:
        assert (in_evaluated / "scenes" / f"{row['image_id']}.png").read_bytes() == row["image"]
    manifest = read_csv(in_evaluated / "scenes" / "labels.csv")
    assert [m["path"] for m in manifest] == [f"{row['image_id']}.png" for row in table]
    assert manifest[0]["labels"] == "|".join(tiny.dataset.classes[k] for k in table[0]["labels"])


def test_scores_on_exported_test_scenes_equal_evaluates(in_evaluated):
    result = ssmll("predict", "data/models/method.pt", "scenes", "--output", "out.csv", *RUNTIME)
    assert result.exit_code == 0, result.output
    rows = read_csv(in_evaluated / "out.csv")
    evaluate = {
        r["image_id"]: r["scores"]
        for r in pq.read_table(in_evaluated / "data/evaluate/predictions.parquet").to_pylist()
        if r["variant"] == "method"
    }
    classes = load_bundle(in_evaluated / "data/models/method.pt").classes
    assert len(rows) == N
    for row in rows:
        got = [float(row[f"score_{c}"]) for c in classes]
        np.testing.assert_allclose(got, evaluate[Path(row["path"]).stem], rtol=0, atol=1e-6)


def test_the_bundle_alone_is_enough(evaluated, tmp_path, monkeypatch):
    shutil.copy(evaluated / "data/models/method.pt", tmp_path / "model.pt")
    shutil.copytree(evaluated / "scenes", tmp_path / "scenes")
    monkeypatch.chdir(tmp_path)
    assert ssmll("predict", "model.pt", "scenes", "-o", "alone.csv", *RUNTIME).exit_code == 0
    monkeypatch.chdir(evaluated)
    assert ssmll("predict", "data/models/method.pt", "scenes", "-o", "here.csv", *RUNTIME).exit_code == 0
    assert read_csv(tmp_path / "alone.csv") == read_csv(evaluated / "here.csv")


def test_default_labels_are_the_bundles_class_wise_decisions(in_evaluated):
    assert ssmll("predict", "data/models/method.pt", "scenes", "-o", "out.jsonl", *RUNTIME).exit_code == 0
    bundle = load_bundle(in_evaluated / "data/models/method.pt")
    for line in (in_evaluated / "out.jsonl").read_text().splitlines():
        row = json.loads(line)
        scores = np.array([row["scores"][c] for c in bundle.classes], dtype=np.float32)
        assert sorted(row["labels"]) == sorted(c for c, on in zip(bundle.classes, bundle.labels(scores[None])[0]) if on)


def test_the_three_formats_hold_the_same_predictions(in_evaluated):
    for name in ("out.csv", "out.jsonl", "out.parquet"):
        assert ssmll("predict", "data/models/method.pt", "scenes", "-o", name, "--top-k", "2", *RUNTIME).exit_code == 0
    csv_rows = read_csv(in_evaluated / "out.csv")
    jsonl = [json.loads(line) for line in (in_evaluated / "out.jsonl").read_text().splitlines()]
    parquet = pq.read_table(in_evaluated / "out.parquet").to_pylist()
    for c, j, p in zip(csv_rows, jsonl, parquet):
        assert c["path"] == j["path"] == p["path"]
        assert c["labels"].split("|") == j["labels"] == p["labels"] and len(p["labels"]) == 2
        assert all(float(c[f"score_{k}"]) == j["scores"][k] == p[f"score_{k}"] for k in j["scores"])


def test_top_k_and_threshold_choose_the_labels():
    class ThreeClasses:  # what decide reads of a bundle
        classes = ["a", "b", "c"]

        @staticmethod
        def labels(scores):
            return scores >= np.array([0.9, 0.1, 0.9])

    scores = np.array([[0.5, 0.2, 0.95], [0.05, 0.3, 0.6]])
    assert decide(ThreeClasses, scores) == [["c", "b"], ["b"]]
    assert decide(ThreeClasses, scores, threshold=0.4) == [["c", "a"], ["c"]]
    assert decide(ThreeClasses, scores, top_k=1) == [["c"], ["c"]]
    assert decide(ThreeClasses, scores, top_k=2, threshold=0.4) == [["c", "a"], ["c"]]


def test_files_folders_and_manifests_each_image_once(in_evaluated):
    nested = in_evaluated / "nested" / "deeper"
    nested.mkdir(parents=True, exist_ok=True)
    shutil.copy(in_evaluated / "scenes" / "test_000001.png", nested / "copy.PNG")
    (in_evaluated / "nested" / "notes.txt").write_text("not an image")
    found = find_images([Path("scenes/test_000000.png"), Path("nested"), Path("scenes/labels.csv")])
    assert found[:2] == ["scenes/test_000000.png", "nested/deeper/copy.PNG"]
    assert found[2:] == [f"scenes/test_{i:06d}.png" for i in range(1, N)]


def test_an_unreadable_image_is_named_and_skipped(in_evaluated):
    folder = in_evaluated / "mixed"
    shutil.copytree(in_evaluated / "scenes", folder, dirs_exist_ok=True)
    (folder / "broken.png").write_bytes(b"\x89PNG truncated")
    result = ssmll("predict", "data/models/method.pt", "mixed", "-o", "mixed.csv", *RUNTIME)
    assert result.exit_code == 0, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("warning: skipped mixed/broken.png: corrupt: ")
    assert len(read_csv(in_evaluated / "mixed.csv")) == N


BAD = {
    "missing_model": (["nowhere.pt", "scenes"], "run the train stage first"),
    "not_a_model": (["scenes/labels.csv", "scenes"], "is not a model bundle"),
    "missing_input": (["data/models/method.pt", "scenes", "nothing_here"], "input nothing_here not found"),
    "bad_output_format": (
        ["data/models/method.pt", "scenes", "-o", "out.xlsx"],
        "should end in one of .csv, .jsonl, .parquet",
    ),
    "nothing_readable": (["data/models/method.pt", "junk.png"], "none of the 1 images can be read"),
}


@pytest.mark.parametrize("args, message", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_and_writes_nothing(in_evaluated, args, message):
    (in_evaluated / "junk.png").write_bytes(b"junk")
    if "-o" not in args:
        args = [*args, "-o", "bad.csv"]
    before = snapshot(in_evaluated)
    result = ssmll("predict", *args, *RUNTIME)
    assert result.exit_code == 2, result.output
    assert result.stderr.startswith("error: ") and len(result.stderr.splitlines()) == 1 and message in result.stderr
    assert snapshot(in_evaluated) == before


def test_the_console_script_is_declared():
    scripts = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, name = scripts["ssmll"].partition(":")
    assert getattr(importlib.import_module(module), name) is app


def test_export_of_an_unknown_split_is_one_line(in_evaluated):
    result = ssmll("export-images", "out", "--split", "val")
    assert result.exit_code == 2 and result.stderr == "error: no split 'val'; choose one of train, test\n"


def test_export_before_prepare_names_the_stage_and_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = ssmll("export-images", "scenes")
    assert result.exit_code == 2 and "run the prepare stage first" in result.stderr
    assert list(tmp_path.iterdir()) == []
