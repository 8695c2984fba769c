"""What the Attribution lab draws and exports (interp.attribution.report), with known answers and no Streamlit:
the view's map, hover means, the figure sheet, the settings record and the sanity check's summary."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from interp.attribution import Attribution, SanityCheck, SanityStage, gaussian_blur
from interp.attribution.report import (
    SHEET,
    View,
    describe_params,
    figure_png,
    hover_cells,
    percent,
    sanity_summary,
    settings_record,
    shown_heat,
    slug,
    timing,
    unmoved,
)


def planted(method: str, heat: torch.Tensor, seconds: float = 1.5, delta: float | None = None) -> Attribution:
    return Attribution(
        method, 41, heat, {"steps": 16, "batch": 4} if method == "ig" else {}, seconds, probability=0.25, delta=delta
    )


def test_percent_and_slug_known_values():
    assert [percent(p) for p in (1.0, 0.99951, 0.5, 0.0004, 0.0)] == ["100.0%", "> 99.9%", "50.0%", "< 0.1%", "0.0%"]
    assert slug("Tabby, tabby cat!") == "tabby--tabby-cat" and slug("???") == "class"
    assert len(slug("x" * 100)) == 40


def test_timing_and_settings_lines():
    ig = planted("ig", torch.zeros(8, 8), seconds=2.345, delta=0.0123)
    assert timing(ig) == "2.35 s · signed · completeness error 0.012"
    assert timing(planted("saliency", torch.zeros(8, 8))) == "1.50 s · magnitude"
    assert describe_params(ig) == "steps 16"
    assert describe_params(planted("saliency", torch.zeros(2, 2))) == "no settings"


def test_shown_heat_drops_signs_and_blurs_only_pixel_level_maps():
    heat = torch.zeros(32, 32)
    heat[16, 16], heat[10, 20] = 5.0, -3.0  # further than the blur's reach (3 sigma) from the edges
    np.testing.assert_array_equal(shown_heat(heat, View(smooth=0.0)), heat.numpy())
    np.testing.assert_array_equal(shown_heat(heat, View(smooth=0.0, magnitude=True)), heat.abs().numpy())
    np.testing.assert_array_equal(shown_heat(heat, View(smooth=2.0), pixel_level=False), heat.numpy())  # Grad-CAM
    blurred = shown_heat(heat, View(smooth=2.0))
    np.testing.assert_allclose(blurred, gaussian_blur(heat[None, None], 2.0)[0, 0].numpy())
    assert blurred.sum() == pytest.approx(2.0, abs=1e-4) and blurred.max() < 5.0  # the mean kept, the peak spread


def test_hover_cells_are_the_block_means():
    values = np.arange(81, dtype=np.float32).reshape(9, 9)  # the ninth row and column make no whole block
    cells = hover_cells(values, 4)
    assert cells.shape == (2, 2)
    assert cells[0, 0] == pytest.approx(values[:4, :4].mean()) and cells[1, 1] == pytest.approx(values[4:8, 4:8].mean())


def test_the_figure_sheet_has_a_tile_per_map_and_the_picture_first():
    display = Image.new("RGB", (300, 300), (200, 40, 40))
    results = {"saliency": planted("saliency", torch.rand(3, 32, 32)), "ig": planted("ig", torch.randn(3, 32, 32))}
    sheet = Image.open(io.BytesIO(figure_png(display, "my dog", "abcd1234", "dalmatian", 0.25, results, View())))
    side, pad, header, caption, footer = (SHEET[k] for k in ("side", "pad", "header", "caption", "footer"))
    assert sheet.format == "PNG"
    assert sheet.size == (pad + 3 * (side + pad), header + (side + caption + pad) + footer)  # 3 tiles, one row
    assert sheet.convert("RGB").getpixel((pad + side // 2, header + side // 2)) == (200, 40, 40)  # the picture
    five = {f"m{i}": planted("saliency", torch.rand(3, 32, 32)) for i in range(5)}
    wide = Image.open(io.BytesIO(figure_png(display, "x", "k", "y", 0.5, five, View())))
    assert wide.size == (pad + 4 * (side + pad), header + 2 * (side + caption + pad) + footer)  # 6 tiles: 4 + 2


def test_the_settings_record_names_everything_and_is_json():
    results = {"ig": planted("ig", torch.zeros(3, 4, 4), delta=0.5)}
    record = settings_record(
        name="my dog.jpg",
        key="abcd",
        notes=("scaled down",),
        target=41,
        label="dalmatian",
        probability=0.123456789,
        layer="mixed5b",
        layer_method="gxa",
        view=View(0.5, 2.0, True),
        results=results,
    )
    assert json.loads(json.dumps(record)) == record
    assert record["picture"] == {"name": "my dog.jpg", "sha256_16": "abcd", "notes": ["scaled down"]}
    assert record["class"] == {"index": 41, "label": "dalmatian", "probability": 0.123457}
    assert record["building_blocks"] == {"layer": "mixed5b", "method": "gxa"}
    assert record["view"] == {"opacity": 0.5, "smooth": 2.0, "magnitude": True}
    assert record["methods"]["ig"]["title"] == "Integrated Gradients"
    assert record["methods"]["ig"]["params"] == {"steps": 16, "batch": 4}
    assert record["methods"]["ig"]["convergence_delta"] == 0.5


def test_the_sanity_summary_keeps_correlations_and_thumbnails():
    maps = {m: torch.rand(16, 16, generator=torch.Generator().manual_seed(i)) for i, m in enumerate(("saliency", "ig"))}
    stages = [
        SanityStage(("logits",), {"saliency": 0.9, "ig": 0.5}, maps),
        SanityStage(("logits", "mixed5b"), {"saliency": 0.8, "ig": 0.1}, maps),
    ]
    check = SanityCheck(41, ("saliency", "ig"), maps, stages, seconds=3.0)
    summary = sanity_summary(check, side=20)
    assert summary["stages"] == ["logits", "mixed5b"] and summary["target"] == 41
    assert summary["correlation"] == {"saliency": [0.9, 0.8], "ig": [0.5, 0.1]}
    assert [len(summary["thumbs"][m]) for m in ("saliency", "ig")] == [3, 3]  # trained, then each stage
    assert all(t.shape == (20, 20, 3) and t.dtype == np.uint8 for m in summary["thumbs"] for t in summary["thumbs"][m])
    assert unmoved(summary) == {"saliency": 0.8} and unmoved(summary, threshold=0.05) == {"saliency": 0.8, "ig": 0.1}
