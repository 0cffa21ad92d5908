"""NUS-WIDE's 81 concepts, from the official list files or the shared ``formatted_*.npy`` form.

Official layout (``layout: official``)::

    <root>/ImageList/TrainImagelist.txt, TestImagelist.txt        "actor\\0001_2124494179.jpg" lines
    <root>/Groundtruth/TrainTestLabels/Labels_<concept>_Train.txt  one 0/1 line per listed image
    <root>/Groundtruth/TrainTestLabels/Labels_<concept>_Test.txt
    <root>/Flickr/actor/0001_2124494179.jpg

The form most SSMLL code reads (``layout: npy``; its "val" part is the test set)::

    <root>/formatted_train_images.npy, formatted_val_images.npy   image paths under Flickr/
    <root>/formatted_train_labels.npy, formatted_val_labels.npy   (N, 81) 0/1 matrices

``layout: auto`` takes the official files when ``ImageList/`` exists, else the npy form.
Image ids are the paths under ``Flickr/`` with ``/`` separators. Many NUS-WIDE images
could never be downloaded: a listed file that is missing is reported as skipped by the
file check. Images without any of the 81 concepts are left out and reported as skipped
(``no labels``) with ``drop_unlabeled`` (the default), else kept and counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ssmll.core.errors import UserError
from ssmll.data.sources.classnames import NUSWIDE_CONCEPTS, NUSWIDE_PROMPT_NAMES, prompt_names
from ssmll.data.sources.records import Record, assemble, read_lines, require_dir, require_file
from ssmll.data.tables import PreparedDataset

LAYOUTS = ("auto", "official", "npy")
#: Our split -> the official list name and the npy form's name.
OFFICIAL = {"train": "Train", "test": "Test"}
NPY = {"train": "train", "test": "val"}


@dataclass(frozen=True)
class NusWideConfig:
    root: str = "data/raw/nuswide"
    layout: str = "auto"
    images_dir: str = "Flickr"
    drop_unlabeled: bool = True


def build(cfg: NusWideConfig) -> PreparedDataset:
    if cfg.layout not in LAYOUTS:
        raise UserError(f"data.nuswide.layout={cfg.layout!r}; choose one of: {', '.join(LAYOUTS)}")
    root = require_dir(cfg.root, "data.nuswide.root", "ImageList/ and Groundtruth/, or formatted_*.npy, and Flickr/")
    layout = cfg.layout if cfg.layout != "auto" else ("official" if (root / "ImageList").is_dir() else "npy")
    read = _official if layout == "official" else _npy
    splits = {split: read(root, split) for split in OFFICIAL}
    prompts = prompt_names(NUSWIDE_CONCEPTS, NUSWIDE_PROMPT_NAMES)
    info = {"nuswide": {"layout": layout}}
    return assemble(NUSWIDE_CONCEPTS, prompts, splits, root / cfg.images_dir, cfg.drop_unlabeled, info=info)


def image_id(listed: str) -> str:
    """A listed image path as a ``/``-separated path under ``Flickr/`` (lists use ``\\``)."""
    return listed.strip().replace("\\", "/").split("Flickr/")[-1]


def _official(root: Path, split: str) -> list[Record]:
    name = OFFICIAL[split]
    images = [image_id(line) for line in read_lines(root / "ImageList" / f"{name}Imagelist.txt", "NUS-WIDE image list")]
    y = np.zeros((len(images), len(NUSWIDE_CONCEPTS)), dtype=bool)
    labels_dir = _groundtruth(root) / "TrainTestLabels"
    for k, concept in enumerate(NUSWIDE_CONCEPTS):
        path = labels_dir / f"Labels_{concept}_{name}.txt"
        marks = read_lines(path, "NUS-WIDE label file")
        if len(marks) != len(images) or not set(marks) <= {"0", "1"}:
            raise UserError(
                f"{path} should hold one 0 or 1 per line for each of the {len(images)} images of "
                f"{name}Imagelist.txt, but has {len(marks)} lines; download Groundtruth again"
            )
        y[:, k] = np.array(marks) == "1"
    return _records(images, y)


def _groundtruth(root: Path) -> Path:
    """The ground-truth folder; archives spell it Groundtruth or GroundTruth."""
    for name in ("Groundtruth", "GroundTruth", "groundtruth"):
        if (root / name).is_dir():
            return root / name
    raise UserError(f"no Groundtruth/ folder in {root}; extract NUS-WIDE's Groundtruth.zip there")


def _npy(root: Path, split: str) -> list[Record]:
    name = NPY[split]
    images_path = require_file(root / f"formatted_{name}_images.npy", "NUS-WIDE image list")
    labels_path = require_file(root / f"formatted_{name}_labels.npy", "NUS-WIDE label matrix")
    images = [image_id(p.decode() if isinstance(p, bytes) else str(p)) for p in _load(images_path).ravel()]
    y = _load(labels_path)
    if y.shape != (len(images), len(NUSWIDE_CONCEPTS)):
        raise UserError(
            f"{labels_path} has shape {y.shape}; expected ({len(images)}, {len(NUSWIDE_CONCEPTS)}): "
            f"one row per image of {images_path.name}, one column per concept"
        )
    return _records(images, y > 0)


def _load(path: Path) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as e:
        raise UserError(f"cannot read {path} as a numpy array of strings or numbers: {e}") from e


def _records(images: list[str], y: np.ndarray) -> list[Record]:
    return [Record(i, i, tuple(np.flatnonzero(row).tolist())) for i, row in zip(images, y)]
