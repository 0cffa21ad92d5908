"""What the file-based sources share: image records, reading their list files, and
turning the records into a :class:`PreparedDataset` whose ``path`` column points at the
image files (checked later, in :mod:`ssmll.data.sources.filecheck`).
"""

from __future__ import annotations

import collections
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ssmll.core.errors import UserError
from ssmll.data.tables import PreparedDataset, Skipped, make_table

#: How many offending names an error message shows.
SHOWN = 5


@dataclass(frozen=True)
class Record:
    """One image of a source: its id, its file relative to the dataset root, its label indices."""

    image_id: str
    path: str
    labels: tuple[int, ...]


def require_dir(path: str | Path, param: str, expected: str) -> Path:
    """``path`` as a directory; a missing one is a user error saying what belongs there."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(
            f"{param}={path} is not a directory; it should hold {expected} "
            f"(see docs/datasets.md), or set -S {param}=/path/to/it"
        )
    return path


def require_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise UserError(f"{what} not found: {path}; check the dataset's layout (docs/datasets.md)")
    return path


def read_lines(path: Path, what: str) -> list[str]:
    """The non-blank lines of a list file, stripped."""
    try:
        text = require_file(path, what).read_text(encoding="utf-8-sig", errors="replace")
    except OSError as e:
        raise UserError(f"cannot read {what} {path}: {e}") from e
    return [line.strip() for line in text.splitlines() if line.strip()]


def show(items: Iterable[str]) -> str:
    """The first few of ``items`` for an error message, with how many more there are."""
    items = list(items)
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(items[:SHOWN]) + more


def label_indices(
    names: Iterable[str], index: dict[str, int], image_id: str, unknown: dict[str, str]
) -> tuple[int, ...]:
    """Class indices of ``names``; names not in ``index`` are collected in ``unknown`` (name -> an image)."""
    out = []
    for name in names:
        if name in index:
            out.append(index[name])
        else:
            unknown.setdefault(name, image_id)
    return tuple(sorted(set(out)))


def unknown_labels_error(unknown: dict[str, str], where: str, fix: str) -> UserError:
    listed = show(f"{name!r} (image {image})" for name, image in unknown.items())
    return UserError(f"{where} uses {len(unknown)} label(s) not in the class list: {listed}; {fix}")


def assemble(
    classes: list[str],
    prompt_names: list[str],
    splits: dict[str, list[Record]],
    root: str | Path,
    drop_unlabeled: bool = False,
    skipped: list[Skipped] | None = None,
    info: dict[str, Any] | None = None,
) -> PreparedDataset:
    """Tables of the records per split, paths joined to ``root``.

    With ``drop_unlabeled`` an image without labels is left out and reported as skipped
    (``no labels``); otherwise it stays and is counted in ``images_without_labels``.
    ``skipped`` lists what the source already left out.
    """
    _check_unique(splits)
    tables, skipped = {}, list(skipped or [])
    for split, records in splits.items():
        kept = []
        for r in records:
            path = os.path.join(root, r.path)
            if drop_unlabeled and not r.labels:
                skipped.append(Skipped(split, r.image_id, "no labels", path))
            else:
                kept.append((r.image_id, list(r.labels), path))
        ids, labels, paths = (list(col) for col in zip(*kept)) if kept else ([], [], [])
        tables[split] = make_table(ids, labels, paths=paths)
    return PreparedDataset(classes, prompt_names, tables, skipped, info or {})


def _check_unique(splits: dict[str, list[Record]]) -> None:
    where: dict[str, list[str]] = collections.defaultdict(list)
    for split, records in splits.items():
        for r in records:
            where[r.image_id].append(split)
    repeated = {i: s for i, s in where.items() if len(s) > 1}
    if repeated:
        listed = show(f"{i!r} ({', '.join(s)})" for i, s in sorted(repeated.items()))
        raise UserError(f"{len(repeated)} image id(s) listed more than once: {listed}; each image must appear once")
