"""Decoding images as found in the wild into 8-bit RGB, and telling unusable files apart."""

from __future__ import annotations

import io
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from ssmll.core.errors import UserError

#: What Pillow raises for a file that exists but is not a decodable image.
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning, Image.DecompressionBombError)

#: A JPEG is checked at 1/8 scale or less: libjpeg still reads every byte of it (a
#: truncated file still fails) but skips most of the inverse DCT and colour work.
_CHECK_SIZE = (64, 64)


def open_rgb(path: str | Path | None = None, data: bytes | None = None) -> Image.Image:
    """Open an image file or encoded bytes as RGB, EXIF orientation applied.

    Grayscale, palette, CMYK, alpha and 16-bit images are converted; truncated or
    corrupt files raise :class:`UserError` naming the file.
    """
    try:
        return _decode(io.BytesIO(data) if data is not None else path)
    except FileNotFoundError as e:
        raise UserError(f"image file not found: {path}") from e
    except _DECODE_ERRORS as e:
        raise UserError(f"cannot decode image {path or '<bytes>'}: {e}") from e


def image_problem(path: str, decode: bool = True) -> str | None:
    """Why the image file at ``path`` cannot be used, or None when it can.

    The answer starts with ``missing:`` or ``corrupt:``. With ``decode`` the whole file
    is decoded as :func:`open_rgb` would (JPEGs at reduced scale); without it only the
    header is read, which misses truncated files.
    """
    if not os.path.isfile(path):
        return "missing: no such file"
    try:
        if decode:
            _decode(path, draft=_CHECK_SIZE)
        else:
            with Image.open(path):
                pass
    except _DECODE_ERRORS as e:
        return f"corrupt: {e}"
    return None


def _decode(source: str | Path | io.BytesIO | None, draft: tuple[int, int] | None = None) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        warnings.filterwarnings("ignore", ".*EXIF", UserWarning)  # a broken EXIF block only loses orientation
        with Image.open(source) as img:
            if draft is not None:
                img.draft(None, draft)
            img.load()
            return _to_rgb(ImageOps.exif_transpose(img))


def _to_rgb(img: Image.Image) -> Image.Image:
    if img.mode.startswith("I") or img.mode == "F":
        img = Image.fromarray(_to_uint8(np.asarray(img), img.mode))
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _to_uint8(arr: np.ndarray, mode: str) -> np.ndarray:
    """16-bit, 32-bit integer and float pixels scaled to 0..255.

    ``I;16*`` modes use their full 16-bit range; ``I`` and ``F`` carry no range, so
    values up to 1 (float only), 255 or 65535 are taken as that range.
    """
    arr = arr.astype(np.float64)
    top = float(arr.max()) if arr.size else 0.0
    if mode.startswith("I;16") or top > 255:
        scale = 65535.0
    elif mode == "F" and top <= 1.0:
        scale = 1.0
    else:
        scale = 255.0
    return (arr / scale * 255).round().clip(0, 255).astype(np.uint8)
