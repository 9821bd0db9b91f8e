"""The perceptual hash of a photo (64-bit DCT hash from `imagehash`, as 16 hex digits), kept with each
stored photo so near-identical pictures sent for different days or sites can be found by Hamming distance."""

from __future__ import annotations

import io

import imagehash
from PIL import Image, UnidentifiedImageError


def photo_phash(content: bytes) -> str | None:
    """16 hex digits, or None when the content is no readable image."""
    try:
        with Image.open(io.BytesIO(content)) as img:
            return str(imagehash.phash(img))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None
