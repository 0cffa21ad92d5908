"""The class vocabularies of the embedded worlds: names, and each class's pretraining and scene looks.

``digits`` is the ten handwritten digit classes; ``objects`` adds the twenty drawn shapes
after them. Both keep the same rule: a class's pretraining looks and its scene looks are
disjoint, fixed partitions (``scans``, ``shapes``), so the embedded CLIP never saw a look
that a scene shows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ssmll.core.errors import UserError
from ssmll.data.scenes import scans, shapes
from ssmll.data.scenes.scans import ScanPool


@dataclass(frozen=True)
class Vocabulary:
    names: list[str]
    pretraining: Callable[[], ScanPool]  # class index -> looks reserved for the CLIP's pretraining
    scenes: Callable[[], ScanPool]  # class index -> looks the scenes may use
    numerals: dict[int, str] = field(default_factory=dict)  # how a caption may write a class instead ("3")


def _with_shapes(digit_pool: Callable[[], ScanPool], shape_pool: Callable[[], ScanPool]) -> Callable[[], ScanPool]:
    """The digits' pool followed by the shapes', shapes numbered after the ten digits."""
    offset = len(scans.CLASS_NAMES)
    return lambda: {**digit_pool(), **{offset + k: v for k, v in shape_pool().items()}}


_DIGIT_NUMERALS = {d: str(d) for d in range(len(scans.CLASS_NAMES))}

VOCABULARIES: dict[str, Vocabulary] = {
    "digits": Vocabulary(scans.CLASS_NAMES, scans.pretraining_scans, scans.scene_scans, _DIGIT_NUMERALS),
    "objects": Vocabulary(
        scans.CLASS_NAMES + shapes.SHAPE_NAMES,
        _with_shapes(scans.pretraining_scans, shapes.pretraining_looks),
        _with_shapes(scans.scene_scans, shapes.scene_looks),
        _DIGIT_NUMERALS,
    ),
}


def vocabulary(name: str) -> Vocabulary:
    if name not in VOCABULARIES:
        raise UserError(f"unknown vocabulary {name!r}; choose one of: {', '.join(VOCABULARIES)}")
    return VOCABULARIES[name]
