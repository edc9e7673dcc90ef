"""Overlays of the report pages: they must show structure that a plain scaling would hide."""

from __future__ import annotations

import numpy as np

from sentilens.reports.pictures import heat_overlay, signed_overlay


def test_heat_overlay_shows_where_a_nearly_uniform_map_is_highest() -> None:
    image = np.full((3, 8, 8), 0.5, dtype=np.float32)
    heat = np.full((8, 8), 0.75, dtype=np.float32)  # a group firing almost everywhere ...
    heat[2:4, 2:4] = 1.0  # ... and most here
    blended = heat_overlay(image, heat)
    np.testing.assert_allclose(blended[0, 0], 0.5)  # the weakest place leaves the image as it is
    assert np.abs(blended[2, 2] - 0.5).max() > 0.2  # the strongest is clearly coloured
    np.testing.assert_allclose(heat_overlay(image, np.ones((8, 8))), 0.5)  # a flat map says nothing


def test_signed_overlay_is_not_washed_out_by_one_extreme_position() -> None:
    image = np.full((3, 10, 10), 0.5, dtype=np.float32)
    values = np.full((10, 10), 0.1, dtype=np.float32)
    values[5:, :] = -0.1
    values[0, 0] = 50.0  # one heavy-tailed position, as linear-probe CAMs have
    blended = signed_overlay(image, values)
    red_minus_blue = blended[..., 0] - blended[..., 2]
    assert red_minus_blue[2, 5] > 0.1 and red_minus_blue[7, 5] < -0.1  # scaled by the maximum: 0.001
