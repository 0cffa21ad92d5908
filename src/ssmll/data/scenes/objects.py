"""Object scenes: thirty classes (the ten digits and twenty drawn shapes) with COCO-like label statistics.

The benchmarks this project targets have a head class in about half the images, a long tail
of rare classes and about three labels per image; the label process here has the same shape.
Classes get ranks 1..30 in a seeded order and a base rate ``head_prevalence * exp(-(rank - 1)
/ decay) + floor``. Co-occurrence is structured: the classes fall into ``contexts`` hidden
groups; a scene draws one context and holds each class independently with its base rate,
boosted ``context_boost`` times inside the context and damped outside it so a class's marginal
rate stays about its base rate. Scenes with no label or more than ``max_objects`` are drawn
again. The layout is the digit scenes' (``layout.grid_scene``), on a grid sized by the scene's
own count. Train and test scenes use disjoint looks, and neither a look of the embedded CLIP's
pretraining corpus. Everything is a pure function of the config and seed.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
from PIL import Image

from ssmll.core.errors import UserError
from ssmll.data.scenes.layout import grid_scene, scene_tables
from ssmll.data.scenes.scans import ScanPool, split_pool
from ssmll.data.scenes.vocabulary import vocabulary
from ssmll.data.tables import PreparedDataset

__all__ = ["CLASS_NAMES", "ObjectScenesConfig", "build", "draw_labels", "hidden_contexts", "presence_probabilities"]

CLASS_NAMES = vocabulary("objects").names
_MAX_GRID_OBJECTS = 9  # a 3 x 3 grid at most, as in the digit scenes: smaller cells would shrink looks past reading
#: The least share of first draws a context must accept, else building spends its time redrawing.
_MIN_ACCEPTANCE = 0.01


@dataclass(frozen=True)
class ObjectScenesConfig:
    n_train: int = 4000
    n_test: int = 3000
    image_size: int = 64
    head_prevalence: float = 0.55
    decay: float = 5.0
    floor: float = 0.01
    contexts: int = 5
    context_boost: float = 3.0
    max_objects: int = 9
    test_fraction_of_looks: float = 0.3
    seed: int = 0

    def validate(self) -> None:
        """Reject impossible settings with a message that names the param."""
        if self.n_train < 1 or self.n_test < 1:
            raise UserError("data.objects.n_train and n_test must be at least 1")
        if self.image_size < 32:
            raise UserError(f"data.objects.image_size={self.image_size} is too small; use at least 32")
        if not 0.0 < self.head_prevalence <= 1.0:
            raise UserError(f"data.objects.head_prevalence={self.head_prevalence} must be within (0, 1]")
        if self.decay <= 0:
            raise UserError(f"data.objects.decay={self.decay} must be > 0")
        if not 0.0 <= self.floor < 1.0:
            raise UserError(f"data.objects.floor={self.floor} must be within [0, 1)")
        if not 2 <= self.contexts <= len(CLASS_NAMES):
            raise UserError(f"data.objects.contexts={self.contexts} must be within [2, {len(CLASS_NAMES)}]")
        if not 1.0 <= self.context_boost <= self.contexts:
            raise UserError(f"data.objects.context_boost={self.context_boost} must be within [1, contexts]")
        if not 1 <= self.max_objects <= _MAX_GRID_OBJECTS:
            raise UserError(f"data.objects.max_objects={self.max_objects} must be within 1..{_MAX_GRID_OBJECTS}")
        if not 0.0 < self.test_fraction_of_looks < 1.0:
            raise UserError("data.objects.test_fraction_of_looks must be within (0, 1)")
        accepted = acceptance(presence_probabilities(self), self.max_objects).min()
        if accepted < _MIN_ACCEPTANCE:
            raise UserError(
                f"data.objects.max_objects={self.max_objects}: only {accepted:.2%} of a context's scenes have "
                "1..max_objects labels; lower head_prevalence or floor, or raise max_objects"
            )


def build(cfg: ObjectScenesConfig) -> PreparedDataset:
    """Generate the train and test scenes as a prepared dataset (PNG bytes embedded)."""
    cfg.validate()
    looks, probs = _split_looks(cfg), presence_probabilities(cfg)
    sizes = {"train": cfg.n_train, "test": cfg.n_test}
    tables = scene_tables(sizes, cfg.seed, lambda rng, split: render_scene(rng, looks[split], probs, cfg))
    groups = hidden_contexts(cfg)
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("n_train", "n_test")}
    info = {"objects": {"hidden_contexts": [[CLASS_NAMES[k] for k in g] for g in groups], "settings": settings}}
    return PreparedDataset(CLASS_NAMES, CLASS_NAMES, tables, info=info, groups=groups)


def _split_looks(cfg: ObjectScenesConfig) -> dict[str, ScanPool]:
    """Per class, a seeded disjoint partition of the scene looks into train and test pools."""
    pool = vocabulary("objects").scenes()
    test, train = split_pool(pool, cfg.test_fraction_of_looks, np.random.default_rng([cfg.seed, 99]))
    return {"train": train, "test": test}


def base_rates(cfg: ObjectScenesConfig) -> np.ndarray:
    """Per class, ``head_prevalence * exp(-(rank - 1) / decay) + floor`` with ranks 1..30 in a seeded order."""
    rank = np.empty(len(CLASS_NAMES), dtype=np.int64)
    rank[np.random.default_rng([cfg.seed, 7]).permutation(len(CLASS_NAMES))] = np.arange(1, len(CLASS_NAMES) + 1)
    return cfg.head_prevalence * np.exp(-(rank - 1) / cfg.decay) + cfg.floor


def hidden_contexts(cfg: ObjectScenesConfig) -> list[list[int]]:
    """A seeded partition of the classes into ``contexts`` groups whose sizes differ by at most one."""
    order = np.random.default_rng([cfg.seed, 8]).permutation(len(CLASS_NAMES))
    return sorted(sorted(int(k) for k in order[i :: cfg.contexts]) for i in range(cfg.contexts))


def presence_probabilities(cfg: ObjectScenesConfig) -> np.ndarray:
    """(contexts, classes): the chance a class is in a scene of each context.

    Inside the context the base rate is multiplied by ``context_boost``, outside by
    ``(contexts - context_boost) / (contexts - 1)``, which averages the multiplier to 1
    over the uniformly drawn contexts: a class's marginal rate stays its base rate, up to
    the cap at 1 and the redraws.
    """
    outside = (cfg.contexts - cfg.context_boost) / (cfg.contexts - 1)
    multiplier = np.full((cfg.contexts, len(CLASS_NAMES)), outside)
    for c, group in enumerate(hidden_contexts(cfg)):
        multiplier[c, group] = cfg.context_boost
    return np.minimum(1.0, base_rates(cfg) * multiplier)


def acceptance(probs: np.ndarray, max_objects: int) -> np.ndarray:
    """Per context, the chance a draw of independent classes has 1..max_objects of them (Poisson-binomial)."""
    counts = np.zeros((len(probs), probs.shape[1] + 1))
    counts[:, 0] = 1.0
    for k in range(probs.shape[1]):  # add class k: counts[n] = P(n of the classes so far)
        p = probs[:, k : k + 1]
        counts[:, 1:] = counts[:, 1:] * (1 - p) + counts[:, :-1] * p
        counts[:, 0] *= 1 - p[:, 0]
    return counts[:, 1 : max_objects + 1].sum(1)


def draw_labels(rng: np.random.Generator, probs: np.ndarray, max_objects: int) -> list[int]:
    """The classes of one scene: a uniform hidden context, then each class independently, redrawn
    until the scene has 1..max_objects of them."""
    context = probs[rng.integers(len(probs))]
    while True:
        present = np.flatnonzero(rng.random(len(context)) < context)
        if 1 <= len(present) <= max_objects:
            return present.tolist()


def render_scene(
    rng: np.random.Generator, looks: ScanPool, probs: np.ndarray, cfg: ObjectScenesConfig
) -> tuple[Image.Image, list[int]]:
    """One scene image and its labels, on a grid just large enough for its own objects."""
    labels = draw_labels(rng, probs, cfg.max_objects)
    return grid_scene(rng, labels, looks, cfg.image_size, math.ceil(math.sqrt(len(labels)))), labels
