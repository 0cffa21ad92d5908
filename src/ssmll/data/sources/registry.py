"""Data sources for the prepare stage, by name, and the prepare step itself.

Each source has a config dataclass and a ``build(cfg) -> PreparedDataset`` function;
``build_source`` picks one by its ``data.source`` name, and :func:`prepare` adds what
every source shares: prompt-name overrides, the image-file check and the loss limit.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ssmll.core.config import from_params
from ssmll.core.errors import UserError
from ssmll.data.scenes import digits, objects
from ssmll.data.sources import coco, manifest, nuswide, voc
from ssmll.data.sources.filecheck import check_images, enforce_loss_limit
from ssmll.data.sources.records import show
from ssmll.data.tables import PreparedDataset

SOURCES: dict[str, tuple[type, Callable[[Any], PreparedDataset]]] = {
    "digits": (digits.DigitScenesConfig, digits.build),
    "objects": (objects.ObjectScenesConfig, objects.build),
    "coco2014": (coco.CocoConfig, coco.build),
    "voc2007": (voc.VocConfig, functools.partial(voc.build, year="2007")),
    "voc2012": (voc.VocConfig, functools.partial(voc.build, year="2012")),
    "nuswide": (nuswide.NusWideConfig, nuswide.build),
    "manifest": (manifest.ManifestConfig, manifest.build),
}

IMAGE_CHECKS = ("decode", "header")


@dataclass(frozen=True)
class DataConfig:
    """The ``data`` params that are not one source's options (those sit under ``data.<source>``)."""

    source: str = "objects"
    seed: int = 0
    max_skipped_fraction: float = 0.01
    image_check: str = "decode"
    prompt_names: dict[str, str] = field(default_factory=dict)

    def validate(self) -> None:
        if self.source not in SOURCES:
            raise UserError(f"unknown data.source {self.source!r}; choose one of: {', '.join(SOURCES)}")
        if not 0.0 <= self.max_skipped_fraction <= 1.0:
            raise UserError(f"data.max_skipped_fraction={self.max_skipped_fraction} must be within [0, 1]")
        if self.image_check not in IMAGE_CHECKS:
            raise UserError(f"data.image_check={self.image_check!r}; choose one of: {', '.join(IMAGE_CHECKS)}")


def prepare(data: Mapping[str, Any], progress: bool = False) -> PreparedDataset:
    """The prepared dataset the ``data`` params describe, its image files checked."""
    cfg = from_params(DataConfig, {k: v for k, v in data.items() if k not in SOURCES}, "data")
    if cfg.source not in data:
        raise UserError(
            f"params have no data.{cfg.source} section; "
            f"switch datasets with `dvc exp run -S data={cfg.source}` (conf/data/)"
        )
    ds = build_source(cfg.source, data[cfg.source], cfg.seed)
    ds = with_prompt_names(ds, cfg.prompt_names or {})
    ds = check_images(ds, decode=cfg.image_check == "decode", progress=progress)
    enforce_loss_limit(ds, cfg.max_skipped_fraction)
    empty = [split for split, table in ds.tables.items() if table.num_rows == 0]
    if empty:
        raise UserError(f"data.source {cfg.source} left no {empty[0]} images; check its files and params")
    return ds


def build_source(name: str, options: Mapping[str, Any], seed: int = 0) -> PreparedDataset:
    """Build the prepared dataset of source ``name`` from its options (all of them, as its preset lists
    them); ``seed`` goes to sources that draw."""
    if name not in SOURCES:
        raise UserError(f"unknown data.source {name!r}; choose one of: {', '.join(SOURCES)}")
    cls, build = SOURCES[name]
    if "seed" in {f.name for f in dataclasses.fields(cls)} and isinstance(options, Mapping):
        options = {"seed": seed, **options}
    return build(from_params(cls, options, f"data.{name}"))


def with_prompt_names(ds: PreparedDataset, mapping: Mapping[str, str]) -> PreparedDataset:
    """``ds`` with the prompt phrases of the classes named in ``mapping`` replaced."""
    unknown = [name for name in mapping if name not in ds.classes]
    if unknown:
        raise UserError(f"data.prompt_names names classes this dataset does not have: {show(map(repr, unknown))}")
    prompts = [str(mapping.get(c, p)) for c, p in zip(ds.classes, ds.prompt_names)]
    return dataclasses.replace(ds, prompt_names=prompts)
