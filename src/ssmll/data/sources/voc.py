"""PASCAL VOC 2007 (trainval / test) and VOC 2012 (train / val) in the devkit's layout.

::

    <root>/VOCdevkit/VOC2007/ImageSets/Main/<class>_<split>.txt   "<image id> <1|0|-1>" lines
    <root>/VOCdevkit/VOC2007/ImageSets/Main/<split>.txt           image ids
    <root>/VOCdevkit/VOC2007/Annotations/<image id>.xml           objects: name, difficult
    <root>/VOCdevkit/VOC2007/JPEGImages/<image id>.jpg

(``<root>/VOC2007`` or a root that is itself ``VOC2007`` work as well.) Labels come
from the 20 class files of a split (1 present, 0 present but only as "difficult"
objects, -1 absent) or, when ``labels_from`` says so or the class files are missing,
from the XML annotations, where a class whose objects are all marked difficult is
"difficult" for the image. ``difficult: negative`` (the default, as the SSMLL code:
its label files keep only the 1s) counts those as absent; ``positive`` as present.
All listed images are kept; one with no positive class is counted in
``images_without_labels``.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from ssmll.core.errors import UserError
from ssmll.data.sources.classnames import VOC_CLASSES, VOC_PROMPT_NAMES, prompt_names
from ssmll.data.sources.records import Record, assemble, read_lines, require_dir, unknown_labels_error
from ssmll.data.tables import PreparedDataset, Skipped

#: Our split -> the devkit's split name, per year.
SPLITS = {"2007": {"train": "trainval", "test": "test"}, "2012": {"train": "train", "test": "val"}}
DIFFICULT = ("negative", "positive")
LABELS_FROM = ("auto", "imagesets", "xml")


@dataclass(frozen=True)
class VocConfig:
    root: str = "data/raw/voc"
    difficult: str = "negative"
    labels_from: str = "auto"


def build(cfg: VocConfig, year: str) -> PreparedDataset:
    """Read the year's two splits; ``year`` is fixed by the source name (voc2007, voc2012)."""
    param = f"data.voc{year}"
    if cfg.difficult not in DIFFICULT:
        raise UserError(f"{param}.difficult={cfg.difficult!r}; choose one of: {', '.join(DIFFICULT)}")
    if cfg.labels_from not in LABELS_FROM:
        raise UserError(f"{param}.labels_from={cfg.labels_from!r}; choose one of: {', '.join(LABELS_FROM)}")
    base = _year_dir(require_dir(cfg.root, f"{param}.root", f"VOCdevkit/VOC{year}/"), year, param)
    splits, skipped, used = {}, [], {}
    for split, name in SPLITS[year].items():
        used[split] = _labels_from(base, name, cfg.labels_from)
        if used[split] == "imagesets":
            splits[split] = _from_imagesets(base, name, cfg.difficult == "positive")
        else:
            splits[split], lost = _from_xml(base, name, cfg.difficult == "positive", split)
            skipped += lost
    info = {"voc": {"year": year, "labels_from": used, "difficult": cfg.difficult}}
    prompts = prompt_names(VOC_CLASSES, VOC_PROMPT_NAMES)
    return assemble(VOC_CLASSES, prompts, splits, base, skipped=skipped, info=info)


def _year_dir(root: Path, year: str, param: str) -> Path:
    for candidate in (root / "VOCdevkit" / f"VOC{year}", root / f"VOC{year}", root):
        if candidate.name == f"VOC{year}" and (candidate / "ImageSets" / "Main").is_dir():
            return candidate
    raise UserError(
        f"no VOCdevkit/VOC{year}/ImageSets/Main under {param}.root={root}; "
        f"extract the VOC {year} tar files there (see docs/datasets.md)"
    )


def _class_file(base: Path, cls: str, split: str) -> Path:
    return base / "ImageSets" / "Main" / f"{cls}_{split}.txt"


def _labels_from(base: Path, split: str, wanted: str) -> str:
    """Which annotation form to read for ``split``: the class files when all are there."""
    if wanted != "auto":
        return wanted
    return "imagesets" if all(_class_file(base, c, split).is_file() for c in VOC_CLASSES) else "xml"


def _from_imagesets(base: Path, split: str, difficult_positive: bool) -> list[Record]:
    present = {1, 0} if difficult_positive else {1}
    order: list[str] = []  # the first file's ids; a repeated one is reported by assemble
    labels: dict[str, list[int]] = {}
    for k, cls in enumerate(VOC_CLASSES):
        path = _class_file(base, cls, split)
        marks = _read_class_file(path)
        if not order:
            order = [image_id for image_id, _ in marks]
            labels = {i: [] for i in order}
        elif {image_id for image_id, _ in marks} != labels.keys():
            raise UserError(
                f"{path} lists other images than {_class_file(base, VOC_CLASSES[0], split)}; the devkit is mixed up"
            )
        for image_id, mark in marks:
            if mark in present:
                labels[image_id].append(k)
    return [Record(i, f"JPEGImages/{i}.jpg", tuple(sorted(set(labels[i])))) for i in order]


def _read_class_file(path: Path) -> list[tuple[str, int]]:
    """(image id, mark) per line of a class file."""
    marks = []
    for line in read_lines(path, "VOC class file"):
        parts = line.split()
        if len(parts) != 2 or parts[1] not in ("1", "0", "-1"):
            raise UserError(f"{path}: line {line!r} is not '<image id> <1|0|-1>'")
        marks.append((parts[0], int(parts[1])))
    return marks


def _from_xml(base: Path, split: str, difficult_positive: bool, our_split: str) -> tuple[list[Record], list[Skipped]]:
    ids = [line.split()[0] for line in read_lines(base / "ImageSets" / "Main" / f"{split}.txt", "VOC split list")]
    index = {c: k for k, c in enumerate(VOC_CLASSES)}
    records, skipped, unknown = [], [], {}
    for image_id in ids:
        image = f"JPEGImages/{image_id}.jpg"
        xml = base / "Annotations" / f"{image_id}.xml"
        try:
            objects = _objects(xml)
        except FileNotFoundError:
            skipped.append(Skipped(our_split, image_id, f"missing: annotation {xml}", str(base / image)))
            continue
        except (ET.ParseError, OSError) as e:
            skipped.append(Skipped(our_split, image_id, f"corrupt: annotation {xml}: {e}", str(base / image)))
            continue
        unknown.update({name: image_id for name, _ in objects if name not in index and name not in unknown})
        labels = {index[name] for name, hard in objects if name in index and (difficult_positive or not hard)}
        records.append(Record(image_id, image, tuple(sorted(labels))))
    if unknown:
        raise unknown_labels_error(unknown, f"{base / 'Annotations'}", "the annotations are not VOC's 20 classes")
    return records, skipped


def _objects(xml: Path) -> list[tuple[str, bool]]:
    """(class name, difficult) of each object in an annotation file."""
    root = ET.parse(xml).getroot()
    return [
        ((obj.findtext("name") or "").strip(), (obj.findtext("difficult") or "0").strip() == "1")
        for obj in root.iter("object")
    ]
