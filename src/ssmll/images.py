"""Decoding images as found in the wild into 8-bit RGB."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ssmll.errors import UserError


def open_rgb(path: str | Path | None = None, data: bytes | None = None) -> Image.Image:
    """Open an image file or encoded bytes as RGB, EXIF orientation applied.

    Grayscale, palette, CMYK, alpha and 16-bit images are converted; truncated or
    corrupt files raise :class:`UserError` naming the file.
    """
    source = io.BytesIO(data) if data is not None else path
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(source) as img:
                img.load()
                img = ImageOps.exif_transpose(img)
                return _to_rgb(img)
    except FileNotFoundError as e:
        raise UserError(f"image file not found: {path}") from e
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning) as e:
        raise UserError(f"cannot decode image {path or '<bytes>'}: {e}") from e


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        top = 65535.0 if arr.max() > 255 else 255.0
        img = Image.fromarray((arr / top * 255).round().clip(0, 255).astype(np.uint8))
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")
