"""Checking, at prepare time, every image file a source lists, and the limit on losses.

Extraction reads every image again and stops at the first one it cannot decode, hours
into a run; so prepare opens each file first, leaves out the ones that are missing or
corrupt, says which and why, and fails only when more of a split is lost than
``data.max_skipped_fraction`` allows.
"""

from __future__ import annotations

import dataclasses

import pyarrow as pa
from tqdm import tqdm

from ssmll.core.errors import UserError
from ssmll.data.images import image_problem
from ssmll.data.sources.records import show
from ssmll.data.tables import PreparedDataset, Skipped

#: Reasons that mean an image file was lost (rather than left out by the protocol).
LOSSES = ("missing", "corrupt")


def reason_kind(s: Skipped) -> str:
    return s.reason.split(":")[0]


def check_images(ds: PreparedDataset, decode: bool = True, progress: bool = False) -> PreparedDataset:
    """``ds`` without the rows whose image file is missing or unusable, each recorded as skipped.

    Rows with embedded image bytes (no path) are generated, hence trusted.
    """
    tables, skipped = {}, list(ds.skipped)
    for split, table in ds.tables.items():
        if table.column("path").null_count == table.num_rows:
            tables[split] = table
            continue
        ids = table.column("image_id").to_pylist()
        paths = table.column("path").to_pylist()
        problems = [
            image_problem(p, decode) if p is not None else None
            for p in tqdm(paths, desc=f"check {split} images", unit="img", disable=not progress)
        ]
        skipped += [Skipped(split, i, why, p) for i, p, why in zip(ids, paths, problems) if why]
        tables[split] = table.filter(pa.array([why is None for why in problems], pa.bool_()))
    return dataclasses.replace(ds, tables=tables, skipped=skipped)


def enforce_loss_limit(ds: PreparedDataset, max_fraction: float) -> None:
    """Fail when a split lost more than ``max_fraction`` of its images to missing or corrupt files."""
    for split, table in ds.tables.items():
        lost = [s for s in ds.skipped if s.split == split and reason_kind(s) in LOSSES]
        listed = table.num_rows + len(lost)
        if lost and len(lost) > max_fraction * listed:
            offenders = show(f"{s.path or s.image_id} ({s.reason})" for s in lost)
            raise UserError(
                f"{len(lost)} of {listed} {split} images ({len(lost) / listed:.1%}) are missing or unreadable, "
                f"above data.max_skipped_fraction={max_fraction}: {offenders}; "
                "restore those files, or raise data.max_skipped_fraction to prepare without them"
            )
