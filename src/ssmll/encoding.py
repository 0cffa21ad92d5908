"""How images and class prompts are encoded: the ``clip`` and ``extract`` params."""

from __future__ import annotations

from dataclasses import dataclass

from ssmll.errors import UserError
from ssmll.views import ViewConfig


@dataclass(frozen=True)
class ClipConfig:
    model: str = "ViT-S-32"  # an open_clip architecture
    pretrained: str = "none"  # none (random weights), an open_clip tag, or a checkpoint file
    seed: int = 0  # initialises random weights when pretrained is none


@dataclass(frozen=True)
class ExtractConfig(ViewConfig):
    """The views to cache (a :class:`ViewConfig`), the local grid and the prompt templates."""

    grid: int = 7
    templates: tuple[str, ...] = (
        "a photo of the number {}.",
        "a picture of the digit {}.",
        "a photo of a {}.",
        "an image containing {}.",
    )

    def validate(self) -> None:
        super().validate()
        if self.grid < 1:
            raise UserError("extract.grid must be at least 1")
