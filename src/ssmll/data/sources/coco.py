"""COCO 2014 in its official layout: train2014 is the training pool, val2014 the test set.

::

    <root>/annotations/instances_train2014.json
    <root>/annotations/instances_val2014.json
    <root>/train2014/COCO_train2014_000000000009.jpg ...
    <root>/val2014/COCO_val2014_000000000042.jpg ...

The 80 classes are the categories in id order (COCO's ids run 1..90 with gaps). An
image is labelled with the categories of all its annotations, crowd ones included;
images without any annotation are left out, as the SSMLL protocol does, and reported
as skipped (``no labels``). Image ids are the file names without extension.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssmll.core.errors import UserError
from ssmll.data.sources.classnames import COCO_PROMPT_NAMES, prompt_names
from ssmll.data.sources.records import Record, assemble, require_dir, require_file, show
from ssmll.data.tables import PreparedDataset

#: Our split -> COCO's image folder and annotation-file suffix.
SPLITS = {"train": "train2014", "test": "val2014"}


@dataclass(frozen=True)
class CocoConfig:
    root: str = "data/raw/coco2014"


def build(cfg: CocoConfig) -> PreparedDataset:
    """Read both instances files; classes come from the train file's categories."""
    root = require_dir(cfg.root, "data.coco2014.root", "annotations/, train2014/ and val2014/ of COCO 2014")
    files = {split: root / "annotations" / f"instances_{name}.json" for split, name in SPLITS.items()}
    coco = {split: _load(path) for split, path in files.items()}
    categories = _categories(coco["train"], files["train"])
    if _categories(coco["test"], files["test"]) != categories:
        raise UserError(
            f"{files['train']} and {files['test']} list different categories; use the files of one COCO release"
        )
    index = {cat_id: i for i, (cat_id, _) in enumerate(categories)}
    splits = {}
    for split, folder in SPLITS.items():
        with _malformed(files[split]):
            splits[split] = _records(coco[split], folder, index, files[split])
    classes = [name for _, name in categories]
    return assemble(classes, prompt_names(classes, COCO_PROMPT_NAMES), splits, root, drop_unlabeled=True)


def _load(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(require_file(path, "COCO annotation file").read_bytes())
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path} as JSON ({e}); download the annotations again") from e
    missing = [k for k in ("images", "annotations", "categories") if not isinstance(obj, dict) or k not in obj]
    if missing:
        raise UserError(f"{path} has no '{missing[0]}' list; it is not a COCO instances file")
    return obj


def _categories(coco: dict[str, Any], path: Path) -> list[tuple[int, str]]:
    """(category id, name) pairs in id order."""
    with _malformed(path):
        cats = sorted((int(c["id"]), str(c["name"])) for c in coco["categories"])
    ids = [i for i, _ in cats]
    if len(set(ids)) != len(ids):
        raise UserError(f"{path} repeats category ids; it is not a valid COCO instances file")
    return cats


def _records(coco: dict[str, Any], folder: str, index: dict[int, int], path: Path) -> list[Record]:
    labels: dict[int, set[int]] = {int(img["id"]): set() for img in coco["images"]}
    unknown_cats, unknown_images = set(), set()
    for ann in coco["annotations"]:
        image, cat = int(ann["image_id"]), int(ann["category_id"])
        if cat not in index:
            unknown_cats.add(cat)
        elif image not in labels:
            unknown_images.add(image)
        else:
            labels[image].add(index[cat])
    if unknown_cats or unknown_images:
        what = (
            f"category ids not in its categories: {show(map(str, sorted(unknown_cats)))}"
            if unknown_cats
            else f"image ids not in its images: {show(map(str, sorted(unknown_images)))}"
        )
        raise UserError(f"{path} has annotations with {what}; the file is damaged, download it again")
    return [
        Record(Path(img["file_name"]).stem, f"{folder}/{img['file_name']}", tuple(sorted(labels[int(img["id"])])))
        for img in coco["images"]
    ]


@contextlib.contextmanager
def _malformed(path: Path) -> Iterator[None]:
    """Entries without the fields COCO files have are a user error naming the file."""
    try:
        yield
    except (KeyError, TypeError, ValueError) as e:
        raise UserError(f"{path} is not a COCO instances file: an entry lacks or garbles {e}") from e
