"""The one palette and chart settings of the app. Red excites or is positive, blue inhibits or is negative,
everywhere (weight maps, heat maps, attribution, the toy model's matrices); the same colours as
``interp.dataset.pictures``' images, so a chart and a picture of the same numbers agree."""

from __future__ import annotations

# Plotly colour scale: blue (negative) through near-white (zero) to red (positive), centred with zmid=0.
DIVERGING = [[0.0, "rgb(33,102,172)"], [0.5, "rgb(247,247,247)"], [1.0, "rgb(178,24,43)"]]
POSITIVE = "rgb(178,24,43)"
NEGATIVE = "rgb(33,102,172)"
PLOT_CONFIG = {"displayModeBar": False}  # no toolbar over the figures: nothing to misclick on stage
GROUP_COLOURS = ("#3d5a80", "#e07a1f", "#9a9a9a")  # a polysemantic unit's two kinds of thing, and the rest
