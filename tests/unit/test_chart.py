"""The S-curve PNG: produced, big enough to be a real picture, phone-sized, in both languages."""

from __future__ import annotations

import io
from datetime import date, timedelta

import pytest
from PIL import Image

from kotaku.config import MonitoringConfig
from kotaku.domain.plan import default_plan_points
from kotaku.monitoring.chart import HEIGHT_PX, WIDTH_PX, CriticalBand, render_scurve

START = date(2026, 11, 6)
END = START + timedelta(days=60)


def _curves() -> tuple[list[tuple[date, float]], list[tuple[date, float]]]:
    planned = default_plan_points(START, END)
    actual = [(START + timedelta(days=i), round(i * 1.1, 1)) for i in range(0, 21, 2)]
    return planned, actual


@pytest.mark.parametrize("lang", ["id", "en"])
def test_png_is_produced_with_phone_dimensions(lang: str, tmp_path) -> None:
    planned, actual = _curves()
    png = render_scurve(
        planned,
        actual,
        today=START + timedelta(days=20),
        title="Rabat beton jalan lingkungan (ACT-BJL-01)",
        lang=lang,
        subtitle="KSM Bejalen Makmur\nrencana 24,5% · realisasi 22% · terlambat",
    )
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(png) > 40_000  # curves, band, text: far more than an empty canvas
    image = Image.open(io.BytesIO(png))
    assert image.size == (WIDTH_PX, HEIGHT_PX) == (1080, 1350)
    assert image.format == "PNG"
    (tmp_path / f"kurva-{lang}.png").write_bytes(png)


def test_empty_actual_and_long_title_still_render() -> None:
    planned, _ = _curves()
    png = render_scurve(
        planned,
        [],
        today=START,
        title="Pembangunan saluran drainase lingkungan dan gorong-gorong RT 01 sampai RT 05 " * 2,
        lang="id",
    )
    assert Image.open(io.BytesIO(png)).size == (1080, 1350)


def test_band_edge_follows_the_critical_rule_at_its_boundary() -> None:
    band = CriticalBand.from_config(MonitoringConfig())
    assert band.threshold(70.0) == pytest.approx(60.0)  # planned <= 70: more than 10 behind
    assert band.threshold(70.01) == pytest.approx(65.01)  # planned > 70: more than 5 behind
    assert band.threshold(5.0) == 0.0
    custom = CriticalBand.from_config(
        MonitoringConfig(critical_low_plan_max=50, critical_behind_low=20, critical_behind_high=2)
    )
    assert custom.threshold(50) == 30
    assert custom.threshold(60) == 58
