"""PASCAL VOC from a tiny VOCdevkit tree: class files, split lists, XML annotations, JPEGs."""

from __future__ import annotations

import importlib
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
import yaml
from source_fixtures import (
    build_with_defaults,
    prepared_labels,
    prepared_paths,
    run_prepare,
    source_options,
    truncate,
    write_image,
)
from typer.testing import CliRunner

from ssmll.core.errors import UserError
from ssmll.data.sources.classnames import VOC_CLASSES

REPO = Path(__file__).resolve().parents[1]

# devkit split -> image id -> objects (class, difficult)
VOC2007 = {
    "trainval": {
        "000005": [("chair", 0), ("chair", 1)],
        "000007": [("car", 0)],
        "000009": [("horse", 0), ("person", 0), ("person", 1)],
        "000012": [("pottedplant", 1)],  # only a difficult object
    },
    "test": {
        "000001": [("dog", 0), ("person", 0)],
        "000002": [("train", 0)],
        "000004": [("tvmonitor", 1), ("sofa", 0)],
    },
}
VOC2012 = {
    "train": {"2008_000008": [("horse", 0), ("person", 0)], "2008_000015": [("bottle", 0), ("bottle", 1)]},
    "val": {
        "2008_000002": [("tvmonitor", 0)],
        "2008_000003": [("train", 0), ("person", 1)],
        "2008_000007": [("car", 0)],
    },
}


def make_voc(root: Path, year: str, splits: dict) -> Path:
    base = root / "VOCdevkit" / f"VOC{year}"
    main = base / "ImageSets" / "Main"
    main.mkdir(parents=True, exist_ok=True)
    (base / "Annotations").mkdir(exist_ok=True)
    for split, images in splits.items():
        (main / f"{split}.txt").write_text("".join(f"{i}\n" for i in images))
        for cls in VOC_CLASSES:
            lines = [f"{i} {_mark(objects, cls):2d}\n" for i, objects in images.items()]
            (main / f"{cls}_{split}.txt").write_text("".join(lines))
        for n, (image_id, objects) in enumerate(images.items()):
            write_image(base / "JPEGImages" / f"{image_id}.jpg", seed=n)
            (base / "Annotations" / f"{image_id}.xml").write_text(_xml(image_id, objects))
    return root


def _mark(objects: list[tuple[str, int]], cls: str) -> int:
    hard = [d for c, d in objects if c == cls]
    return -1 if not hard else (1 if 0 in hard else 0)


def _xml(image_id: str, objects: list[tuple[str, int]]) -> str:
    body = "".join(
        f"<object><name>{c}</name><pose>Unspecified</pose><truncated>0</truncated><difficult>{d}</difficult>"
        "<bndbox><xmin>1</xmin><ymin>1</ymin><xmax>20</xmax><ymax>20</ymax></bndbox></object>"
        for c, d in objects
    )
    size = "<size><width>40</width><height>30</height><depth>3</depth></size>"
    return (
        f"<annotation><folder>VOC</folder><filename>{image_id}.jpg</filename>{size}"
        f"<segmented>0</segmented>{body}</annotation>"
    )


def remove_class_files(root: Path, year: str) -> None:
    for path in (root / "VOCdevkit" / f"VOC{year}" / "ImageSets" / "Main").glob("*_*.txt"):
        path.unlink()


EXPECTED_2007_TRAIN = {"000005": ["chair"], "000007": ["car"], "000009": ["horse", "person"], "000012": []}
EXPECTED_2007_TEST = {"000001": ["dog", "person"], "000002": ["train"], "000004": ["sofa"]}


def test_prepare_reads_voc2007_class_files(tmp_path):
    root = make_voc(tmp_path / "voc", "2007", VOC2007)
    result, metrics = run_prepare(tmp_path, {"source": "voc2007", "voc2007": {"root": str(root)}})
    assert result.exit_code == 0, result.output
    assert metrics["splits"]["train"]["images"] == 4 and metrics["splits"]["test"]["images"] == 3
    assert metrics["splits"]["train"]["images_without_labels"] == 1
    assert metrics["skipped"]["total"] == 0
    assert metrics["voc"] == {
        "year": "2007",
        "labels_from": {"train": "imagesets", "test": "imagesets"},
        "difficult": "negative",
    }
    assert prepared_labels(tmp_path, "train") == EXPECTED_2007_TRAIN
    assert prepared_labels(tmp_path, "test") == EXPECTED_2007_TEST
    assert prepared_paths(tmp_path, "test")["000002"] == str(
        root / "VOCdevkit" / "VOC2007" / "JPEGImages" / "000002.jpg"
    )


@pytest.mark.parametrize("labels_from", ["imagesets", "xml"])
def test_difficult_can_count_as_positive(tmp_path, labels_from):
    root = make_voc(tmp_path / "voc", "2007", VOC2007)
    ds = build_with_defaults("voc2007", {"root": str(root), "difficult": "positive", "labels_from": labels_from})
    labels = dict(
        zip(ds.tables["train"].column("image_id").to_pylist(), ds.tables["train"].column("labels").to_pylist())
    )
    assert labels["000012"] == [VOC_CLASSES.index("pottedplant")]
    test = dict(zip(ds.tables["test"].column("image_id").to_pylist(), ds.tables["test"].column("labels").to_pylist()))
    assert test["000004"] == sorted([VOC_CLASSES.index("sofa"), VOC_CLASSES.index("tvmonitor")])


def test_xml_annotations_give_the_same_labels(tmp_path):
    root = make_voc(tmp_path / "voc", "2007", VOC2007)
    remove_class_files(root, "2007")
    result, metrics = run_prepare(tmp_path, {"source": "voc2007", "voc2007": {"root": str(root)}})
    assert result.exit_code == 0, result.output
    assert metrics["voc"]["labels_from"] == {"train": "xml", "test": "xml"}
    assert prepared_labels(tmp_path, "train") == EXPECTED_2007_TRAIN
    assert prepared_labels(tmp_path, "test") == EXPECTED_2007_TEST


def test_prepare_reads_voc2012_train_and_val(tmp_path):
    root = make_voc(tmp_path / "voc", "2012", VOC2012)
    make_voc(root, "2007", VOC2007)  # both years under one VOCdevkit, as the tars extract
    result, metrics = run_prepare(tmp_path, {"source": "voc2012", "voc2012": {"root": str(root)}})
    assert result.exit_code == 0, result.output
    assert metrics["splits"]["train"]["images"] == 2 and metrics["splits"]["test"]["images"] == 3
    assert prepared_labels(tmp_path, "train") == {"2008_000008": ["horse", "person"], "2008_000015": ["bottle"]}
    assert prepared_labels(tmp_path, "test") == {
        "2008_000002": ["tvmonitor"],
        "2008_000003": ["train"],
        "2008_000007": ["car"],
    }


def test_unknown_object_class_is_an_error_naming_it(tmp_path):
    root = make_voc(tmp_path / "voc", "2007", VOC2007)
    remove_class_files(root, "2007")
    xml = root / "VOCdevkit" / "VOC2007" / "Annotations" / "000007.xml"
    xml.write_text(_xml("000007", [("car", 0), ("zebra", 0)]))
    with pytest.raises(UserError, match=r"'zebra' \(image 000007\)"):
        build_with_defaults("voc2007", {"root": str(root)})


def test_missing_annotation_and_corrupt_image_are_skipped(tmp_path):
    root = make_voc(tmp_path / "voc", "2007", VOC2007)
    remove_class_files(root, "2007")
    base = root / "VOCdevkit" / "VOC2007"
    (base / "Annotations" / "000007.xml").unlink()
    truncate(base / "JPEGImages" / "000001.jpg")
    data = {"source": "voc2007", "max_skipped_fraction": 0.5, "voc2007": {"root": str(root)}}
    result, metrics = run_prepare(tmp_path, data)
    assert result.exit_code == 0, result.output
    assert metrics["splits"]["train"]["images"] == 3 and metrics["splits"]["test"]["images"] == 2
    assert metrics["skipped"]["by_reason"] == {"corrupt": 1, "missing": 1}
    reasons = {f["image_id"]: f["reason"] for f in metrics["skipped"]["files"]}
    assert reasons["000007"].startswith("missing: annotation") and "truncated" in reasons["000001"]


def test_image_listed_twice_in_class_files_is_an_error_naming_it(tmp_path):
    root = make_voc(tmp_path / "voc", "2007", VOC2007)
    for path in (root / "VOCdevkit" / "VOC2007" / "ImageSets" / "Main").glob("*_test.txt"):
        path.write_text(path.read_text() + path.read_text().splitlines(keepends=True)[0])
    with pytest.raises(UserError, match=r"1 image id\(s\) listed more than once: '000001' \(test, test\)"):
        build_with_defaults("voc2007", {"root": str(root)})


def test_wrong_root_says_what_belongs_there(tmp_path):
    make_voc(tmp_path / "voc", "2012", VOC2012)
    result, _ = run_prepare(tmp_path, {"source": "voc2007", "voc2007": {"root": str(tmp_path / "voc")}})
    assert result.exit_code == 2
    assert "no VOCdevkit/VOC2007/ImageSets/Main" in result.output


def random_voc_split(rng: np.random.Generator, prefix: str, n: int) -> dict:
    """``n`` images with 1-3 objects of a few classes, some difficult."""
    classes = ["bird", "car", "cat", "dog", "person", "pottedplant", "tvmonitor"]
    return {
        f"{prefix}{k:04d}": [
            (str(c), int(rng.random() < 0.2)) for c in rng.choice(classes, rng.integers(1, 4), replace=False)
        ]
        for k in range(n)
    }


@pytest.mark.slow
def test_voc_fixture_goes_through_the_whole_pipeline(tmp_path, monkeypatch):
    """Every stage of dvc.yaml, in order, run as its cmd says, on a VOC 2007 tree with tiny CLIP settings."""
    rng = np.random.default_rng(0)
    root = make_voc(
        tmp_path / "voc", "2007", {"trainval": random_voc_split(rng, "1", 40), "test": random_voc_split(rng, "2", 20)}
    )
    params = yaml.safe_load((REPO / "params.yaml").read_text())
    params["data"].update(source="voc2007", voc2007=source_options("voc2007", {"root": str(root)}))
    params["clip"].update(model="ViT-S-32", pretrained="none")
    params["extract"].update(grid=2, views=2)
    params["split"].update(lb_ratio=0.5)
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    monkeypatch.chdir(tmp_path)
    for name, stage in yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"].items():
        module, *args = shlex.split(stage["cmd"])[2:]  # python -m <module> <args>
        result = CliRunner().invoke(importlib.import_module(module).cli, args)
        assert result.exit_code == 0, f"stage {name}: {result.output}"
    data = json.loads(Path("metrics/data.json").read_text())
    assert (data["splits"]["train"]["images"], data["splits"]["test"]["images"]) == (40, 20)
    assert data["classes"] == VOC_CLASSES
    zeroshot = json.loads(Path("metrics/eval/zeroshot.json").read_text())
    assert 0 <= zeroshot["mAP"] <= 100
