"""COCO 2014 from a tiny copy of its official layout: instances JSON files and image folders."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from source_fixtures import build_with_defaults, prepared_labels, prepared_paths, run_prepare, write_image

from ssmll.core.errors import UserError

# Listed out of id order, with COCO's gaps: classes must come out in id order.
CATEGORIES = [
    {"id": 90, "name": "toothbrush"},
    {"id": 1, "name": "person"},
    {"id": 18, "name": "dog"},
    {"id": 3, "name": "car"},
]
CLASSES = ["person", "car", "dog", "toothbrush"]

# split folder -> {coco image id: category ids of its annotations}; an empty list = no annotations
IMAGES = {
    "train2014": {9: [1, 1, 18], 25: [3], 30: [90, 1], 34: [], 36: [18]},
    "val2014": {42: [3, 90], 73: [], 74: [1]},
}


def make_coco(root: Path) -> Path:
    (root / "annotations").mkdir(parents=True)
    ann_id = 0
    for folder, images in IMAGES.items():
        coco = {"images": [], "annotations": [], "categories": CATEGORIES, "info": {}, "licenses": []}
        for image_id, cats in images.items():
            file_name = f"COCO_{folder}_{image_id:012d}.jpg"
            write_image(root / folder / file_name, seed=image_id)
            coco["images"].append({"id": image_id, "file_name": file_name, "width": 40, "height": 30})
            for cat in cats:
                ann_id += 1
                coco["annotations"].append(
                    {"id": ann_id, "image_id": image_id, "category_id": cat, "iscrowd": int(cat == 90)}
                )
        (root / "annotations" / f"instances_{folder}.json").write_text(json.dumps(coco))
    return root


def stem(folder: str, image_id: int) -> str:
    return f"COCO_{folder}_{image_id:012d}"


def test_prepare_reads_coco_counts_labels_and_paths(tmp_path):
    root = make_coco(tmp_path / "coco")
    result, metrics = run_prepare(tmp_path, {"source": "coco2014", "coco2014": {"root": str(root)}})
    assert result.exit_code == 0, result.output
    assert metrics["classes"] == CLASSES
    assert metrics["splits"]["train"]["images"] == 4 and metrics["splits"]["test"]["images"] == 2
    assert metrics["skipped"]["by_reason"] == {"no labels": 2}
    assert {f["image_id"] for f in metrics["skipped"]["files"]} == {stem("train2014", 34), stem("val2014", 73)}
    train = prepared_labels(tmp_path, "train")
    assert train == {
        stem("train2014", 9): ["person", "dog"],
        stem("train2014", 25): ["car"],
        stem("train2014", 30): ["person", "toothbrush"],
        stem("train2014", 36): ["dog"],
    }
    assert prepared_labels(tmp_path, "test") == {
        stem("val2014", 42): ["car", "toothbrush"],
        stem("val2014", 74): ["person"],
    }
    assert prepared_paths(tmp_path, "test")[stem("val2014", 74)] == str(root / "val2014" / f"{stem('val2014', 74)}.jpg")


def test_missing_image_file_is_skipped_and_counted(tmp_path):
    root = make_coco(tmp_path / "coco")
    (root / "train2014" / f"{stem('train2014', 25)}.jpg").unlink()
    data = {"source": "coco2014", "max_skipped_fraction": 0.5, "coco2014": {"root": str(root)}}
    result, metrics = run_prepare(tmp_path, data)
    assert result.exit_code == 0, result.output
    assert metrics["splits"]["train"]["images"] == 3
    assert metrics["skipped"]["by_reason"] == {"missing": 1, "no labels": 2}
    assert metrics["skipped"]["files"][0]["image_id"] == stem("train2014", 25)


def test_annotation_with_unknown_category_is_an_error(tmp_path):
    root = make_coco(tmp_path / "coco")
    path = root / "annotations" / "instances_val2014.json"
    coco = json.loads(path.read_text())
    coco["annotations"].append({"id": 999, "image_id": 42, "category_id": 12})
    path.write_text(json.dumps(coco))
    with pytest.raises(UserError, match="category ids not in its categories: 12"):
        build_with_defaults("coco2014", {"root": str(root)})


def test_entry_without_its_fields_is_an_error_naming_the_file(tmp_path):
    root = make_coco(tmp_path / "coco")
    path = root / "annotations" / "instances_train2014.json"
    coco = json.loads(path.read_text())
    del coco["images"][0]["file_name"]
    path.write_text(json.dumps(coco))
    with pytest.raises(
        UserError, match="instances_train2014.json is not a COCO instances file: an entry lacks or garbles 'file_name'"
    ):
        build_with_defaults("coco2014", {"root": str(root)})


def test_missing_annotation_file_names_it(tmp_path):
    root = make_coco(tmp_path / "coco")
    (root / "annotations" / "instances_val2014.json").unlink()
    with pytest.raises(UserError, match="instances_val2014.json"):
        build_with_defaults("coco2014", {"root": str(root)})


def test_missing_root_says_which_param(tmp_path):
    result, _ = run_prepare(tmp_path, {"source": "coco2014", "coco2014": {"root": str(tmp_path / "nowhere")}})
    assert result.exit_code == 2
    assert "data.coco2014.root" in result.output and "Traceback" not in result.output
