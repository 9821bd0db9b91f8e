"""Photo rules: the same file or a near-identical picture (perceptual hash, Hamming distance) for another
day or site, and a photo or shared location farther than the radius from the site."""

from __future__ import annotations

import io
import math
from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from kotaku.config import MonitoringConfig
from kotaku.domain.phash import photo_phash
from kotaku.monitoring.checks import (
    PhotoFacts,
    PlacedMedia,
    check_photo_duplicates,
    check_photo_far,
    duplicate_pairs,
)

CFG = MonitoringConfig()  # phash_distance 3, photo_radius_m 500
D1, D2 = date(2026, 11, 19), date(2026, 11, 20)


def flip(h: str, bits: int) -> str:
    return f"{int(h, 16) ^ ((1 << bits) - 1) << 20:016x}"


BASE = "c3a5f0e1d2b49687"


def photo(i: int, ksm: int, day: date, sha: str | None = None, phash: str | None = None) -> PhotoFacts:
    return PhotoFacts(i, ksm, f"KSM {ksm}", day, sha, phash)


def test_same_file_other_day_or_site_but_not_same_day_same_site() -> None:
    photos = [
        photo(1, 1, D1, "aa"),
        photo(2, 1, D1, "aa"),  # sent twice the same day for the same KSM: fine
        photo(3, 1, D2, "aa"),  # same file on another day
        photo(4, 2, D1, "aa"),  # same file at another site
    ]
    found = {f.subject_id: f for f in check_photo_duplicates(photos, CFG)}
    assert set(found) == {3, 4}
    assert found[3].figures["same_file"] is True and found[3].figures["distance"] == 0
    assert found[4].figures["other_ksm_id"] == 1


@pytest.mark.parametrize(("bits", "flagged"), [(3, True), (4, False)])
def test_phash_distance_boundary(bits: int, flagged: bool) -> None:
    photos = [photo(1, 1, D1, "x", BASE), photo(2, 2, D1, "y", flip(BASE, bits))]
    pairs = duplicate_pairs(photos, CFG.phash_distance)
    assert [(a.id, b.id, d) for a, b, d in pairs] == ([(2, 1, bits)] if flagged else [])


def test_wider_distance_setting_still_finds_pairs_without_comparing_all() -> None:
    photos = [photo(1, 1, D1, None, BASE), photo(2, 2, D2, None, flip(BASE, 9))]
    assert duplicate_pairs(photos, 9)[0][2] == 9
    assert duplicate_pairs(photos, 8) == []


def test_subject_filter_keeps_only_given_ksms() -> None:
    photos = [photo(1, 1, D1, "aa"), photo(2, 2, D2, "aa")]
    assert check_photo_duplicates(photos, CFG, subject_ksms={1}) == []
    assert [f.subject_id for f in check_photo_duplicates(photos, CFG, subject_ksms={2})] == [2]


@st.composite
def photo_sets(draw: st.DrawFn) -> tuple[list[PhotoFacts], int, set[int]]:
    """Photos at a few KSMs and days, with shared files and hashes a few bits from each other (and some
    other spellings), a distance setting and a subject set of KSMs."""
    n = draw(st.integers(0, 14))
    base = int(BASE, 16)
    photos = []
    for i in range(1, n + 1):
        flips = draw(st.lists(st.integers(0, 63), max_size=5))
        h = base
        for bit in flips:
            h ^= 1 << bit
        spelling = draw(st.sampled_from([f"{h:016x}", f"{h:016X}", f"{h:x}", None, "zz"]))
        photos.append(
            photo(
                i,
                draw(st.integers(1, 4)),
                draw(st.sampled_from([D1, D2])),
                draw(st.sampled_from([None, "aa", "bb"])),
                spelling,
            )
        )
    return photos, draw(st.integers(0, 6)), draw(st.sets(st.integers(1, 4)))


@settings(max_examples=300, deadline=None)
@given(photo_sets())
def test_pairs_of_subject_ksms_are_the_full_pairs_that_have_one(
    case: tuple[list[PhotoFacts], int, set[int]],
) -> None:
    photos, distance, subject = case
    full = duplicate_pairs(photos, distance)
    expected = [(a, b, d) for a, b, d in full if a.ksm_id in subject or b.ksm_id in subject]
    assert duplicate_pairs(photos, distance, subject) == expected
    findings = check_photo_duplicates(photos, MonitoringConfig(phash_distance=distance), subject)
    assert findings == [
        f
        for f in check_photo_duplicates(photos, MonitoringConfig(phash_distance=distance))
        if f.ksm_id in subject
    ]


def jpeg(draw_offset: int, quality: int = 90, size: int = 256) -> bytes:
    img = Image.new("RGB", (size, size), "white")
    d = ImageDraw.Draw(img)
    d.rectangle([20 + draw_offset, 30, 120 + draw_offset, 200], fill="navy")
    d.ellipse([140, 60, 230, 150], fill="orange")
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def test_real_photos_recompressed_are_near_identical_and_others_are_not() -> None:
    original = photo_phash(jpeg(0))
    recompressed = photo_phash(jpeg(0, quality=40))
    resized_src = Image.open(io.BytesIO(jpeg(0)))
    buf = io.BytesIO()
    resized_src.resize((180, 180)).save(buf, "JPEG", quality=80)
    resized = photo_phash(buf.getvalue())
    other = photo_phash(jpeg(90))
    assert original and recompressed and resized and other and len(original) == 16
    dist = lambda a, b: (int(a, 16) ^ int(b, 16)).bit_count()  # noqa: E731
    assert dist(original, recompressed) <= CFG.phash_distance
    assert dist(original, resized) <= CFG.phash_distance
    assert dist(original, other) > CFG.phash_distance
    assert photo_phash(b"not an image") is None


def offset_point(lat: float, lon: float, meters: float) -> tuple[float, float]:
    """A point `meters` due north."""
    return lat + math.degrees(meters / 6_371_008.8), lon


@pytest.mark.parametrize(("meters", "flagged"), [(499.0, False), (500.0, False), (501.0, True)])
def test_photo_far_radius(meters: float, flagged: bool) -> None:
    lat, lon = offset_point(-7.265, 110.40, meters)
    p = PlacedMedia(3, 1, "KSM 1", D2, False, lat, lon, -7.265, 110.40)
    found = check_photo_far(p, CFG)
    assert [f.kind for f in found] == (["photo_far"] if flagged else [])
    if flagged:
        assert found[0].figures["distance_m"] == pytest.approx(501.0, abs=0.5)
