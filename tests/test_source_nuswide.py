"""NUS-WIDE from tiny copies of its official list files and of the formatted npy form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from source_fixtures import build_with_defaults, prepared_labels, prepared_paths, run_prepare, write_image

from ssmll.core.errors import UserError
from ssmll.data.sources.classnames import NUSWIDE_CONCEPTS

# split -> (image under Flickr/, its concepts); "gone" images are listed but were never downloaded
TRAIN = [
    ("actor/0001_2124494179.jpg", ["person"]),
    ("airport/0002_2263443234.jpg", ["airport", "plane", "sky"]),
    ("beach/0003_1212121212.jpg", []),
    ("gone/0004_9999999999.jpg", ["water"]),
    ("zebra/0005_3434343434.jpg", ["zebra", "grass"]),
]
TEST = [
    ("dog/0006_5656565656.jpg", ["dog", "grass"]),
    ("sunset/0007_7878787878.jpg", []),
    ("sunset/0008_8989898989.jpg", ["sunset", "sky", "clouds"]),
]
SPLITS = {"train": TRAIN, "test": TEST}


def write_images(root: Path) -> None:
    for images in SPLITS.values():
        for n, (path, _) in enumerate(images):
            if not path.startswith("gone/"):
                write_image(root / "Flickr" / path, seed=n)


def make_official(root: Path) -> Path:
    (root / "ImageList").mkdir(parents=True)
    labels_dir = root / "Groundtruth" / "TrainTestLabels"
    labels_dir.mkdir(parents=True)
    for split, name in (("train", "Train"), ("test", "Test")):
        images = SPLITS[split]
        lines = "".join(p.replace("/", "\\") + "\r\n" for p, _ in images)
        (root / "ImageList" / f"{name}Imagelist.txt").write_text(lines)
        for concept in NUSWIDE_CONCEPTS:
            marks = "".join(f"{int(concept in labels)} \n" for _, labels in images)
            (labels_dir / f"Labels_{concept}_{name}.txt").write_text(marks)
    write_images(root)
    return root


def make_npy(root: Path) -> Path:
    root.mkdir(parents=True)
    for split, name in (("train", "train"), ("test", "val")):
        images = SPLITS[split]
        y = np.array([[float(c in labels) for c in NUSWIDE_CONCEPTS] for _, labels in images])
        np.save(root / f"formatted_{name}_images.npy", np.array([p for p, _ in images]))
        np.save(root / f"formatted_{name}_labels.npy", y)
    write_images(root)
    return root


EXPECTED_TRAIN = {
    "actor/0001_2124494179.jpg": ["person"],
    "airport/0002_2263443234.jpg": ["airport", "plane", "sky"],
    "zebra/0005_3434343434.jpg": ["grass", "zebra"],
}
EXPECTED_TEST = {"dog/0006_5656565656.jpg": ["dog", "grass"], "sunset/0008_8989898989.jpg": ["clouds", "sky", "sunset"]}


@pytest.mark.parametrize("make, layout", [(make_official, "official"), (make_npy, "npy")])
def test_prepare_reads_nuswide_and_reports_missing_and_unlabeled(tmp_path, make, layout):
    root = make(tmp_path / "nus")
    data = {"source": "nuswide", "max_skipped_fraction": 0.3, "nuswide": {"root": str(root)}}
    result, metrics = run_prepare(tmp_path, data)
    assert result.exit_code == 0, result.output
    assert metrics["nuswide"] == {"layout": layout}
    assert metrics["num_classes"] == 81
    assert metrics["splits"]["train"]["images"] == 3 and metrics["splits"]["test"]["images"] == 2
    assert metrics["splits"]["train"]["skipped"] == 2 and metrics["splits"]["test"]["skipped"] == 1
    assert metrics["skipped"]["by_reason"] == {"missing": 1, "no labels": 2}
    first = metrics["skipped"]["files"][0]
    assert first["image_id"] == "gone/0004_9999999999.jpg" and first["reason"].startswith("missing")
    assert prepared_labels(tmp_path, "train") == EXPECTED_TRAIN
    assert prepared_labels(tmp_path, "test") == EXPECTED_TEST
    assert prepared_paths(tmp_path, "test")["dog/0006_5656565656.jpg"] == str(
        root / "Flickr" / "dog" / "0006_5656565656.jpg"
    )


def test_unlabeled_images_can_be_kept(tmp_path):
    root = make_official(tmp_path / "nus")
    ds = build_with_defaults("nuswide", {"root": str(root), "drop_unlabeled": False})
    assert ds.tables["train"].num_rows == 5 and ds.tables["test"].num_rows == 3
    assert ds.skipped == []


def test_too_many_missing_files_fail_naming_them(tmp_path):
    root = make_official(tmp_path / "nus")
    result, metrics = run_prepare(tmp_path, {"source": "nuswide", "nuswide": {"root": str(root)}})
    assert result.exit_code == 2 and metrics is None
    assert "1 of 4 train images (25.0%) are missing or unreadable" in result.output
    assert "gone/0004_9999999999.jpg (missing: no such file)" in result.output
    assert "Traceback" not in result.output


def test_label_file_of_the_wrong_length_is_an_error(tmp_path):
    root = make_official(tmp_path / "nus")
    (root / "Groundtruth" / "TrainTestLabels" / "Labels_sky_Test.txt").write_text("0\n1\n")
    with pytest.raises(UserError, match="Labels_sky_Test.txt should hold one 0 or 1 per line for each of the 3 images"):
        build_with_defaults("nuswide", {"root": str(root)})


def test_label_matrix_of_the_wrong_shape_is_an_error(tmp_path):
    root = make_npy(tmp_path / "nus")
    np.save(root / "formatted_val_labels.npy", np.zeros((3, 80)))
    with pytest.raises(UserError, match=r"shape \(3, 80\); expected \(3, 81\)"):
        build_with_defaults("nuswide", {"root": str(root)})
