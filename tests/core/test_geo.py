from __future__ import annotations

import pytest

from citybase.core.geo import distance_m, gcj02_to_wgs84, wgs84_to_gcj02


def test_gcj02_matches_the_published_formula_and_inverts() -> None:
    # the test vector of the widely used open implementations (Beijing)
    assert wgs84_to_gcj02(116.404, 39.915) == pytest.approx(
        (116.41024449916938, 39.91640428150164), abs=1e-9
    )
    fuzhou = (119.2965, 26.0745)
    shifted = wgs84_to_gcj02(*fuzhou)
    assert 100 < distance_m(*fuzhou, *shifted) < 1000  # a street away, as on real maps
    back = gcj02_to_wgs84(*shifted)
    assert distance_m(*fuzhou, *back) < 0.01
    assert wgs84_to_gcj02(2.35, 48.85) == (2.35, 48.85)  # outside China: unchanged


def test_distances() -> None:
    assert distance_m(119.0, 26.0, 119.0, 27.0) == pytest.approx(111_195, rel=1e-3)
    assert distance_m(119.3, 26.07, 119.3, 26.07) == 0
