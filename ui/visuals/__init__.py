"""Every visual a chapter step can name (``visual=...`` in the content files), by id."""

from __future__ import annotations

from collections.abc import Callable

from ui.visuals import cnn, why

VISUALS: dict[str, Callable[[], None]] = {
    "live_classifier": why.live_classifier,
    "learned_untaught": why.learned_untaught,
    "black_box": why.black_box,
    "zoom_levels": why.zoom_levels,
    "tour_map": why.tour_map,
    "architecture_diagram": cnn.architecture_diagram,
    "convolution_demo": cnn.convolution_demo,
    "channel_maps": cnn.channel_maps,
    "depth_progression": cnn.depth_progression,
    "predictions": cnn.predictions_step,
}
