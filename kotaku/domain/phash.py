"""The perceptual hash of a photo (64-bit DCT hash from `imagehash`, as 16 hex digits), kept with each
stored photo so near-identical pictures sent for different days or sites can be found by Hamming distance."""

from __future__ import annotations

import io

import imagehash
from PIL import Image, UnidentifiedImageError

PHASH_BITS = 64


def photo_phash(content: bytes) -> str | None:
    """16 hex digits, or None when the content is no readable image."""
    try:
        with Image.open(io.BytesIO(content)) as img:
            return str(imagehash.phash(img))
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
        return None


def phash_int(value: str | None) -> int | None:
    """The stored hex hash as an integer; None when missing or not hex."""
    if not value:
        return None
    try:
        return int(value, 16)
    except ValueError:
        return None


def hamming_distance(a: int, b: int) -> int:
    """How many of the bits of two hashes differ (Hamming distance)."""
    return (a ^ b).bit_count()
