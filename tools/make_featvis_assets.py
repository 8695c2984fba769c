"""Precompute the feature visualizations the app shows instantly (chapters 3 and 5, and the microscope).

    python tools/make_featvis_assets.py [--size 128] [--steps 512]      # with the bundled weights

Everything is rendered by this project from the real weights: the named units of the circuits thread and
the sample photo's building blocks for the attribution lab with the gallery
(``interp.featvis.gallery.render_gallery``, the code behind ``python -m interp gallery``; it resumes, so an
interrupted run continues), and chapter 3's comparisons with ``render`` at the settings each one needs. Writes
compact JPEGs under ``assets/featvis/`` and ``assets/featvis/manifest.json`` (which pictures illustrate which
step). Takes about 15 minutes on two CPU cores.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from interp.dataset.intake import tensor_to_pil
from interp.featvis import objectives as obj
from interp.featvis import render
from interp.featvis.gallery import render_gallery, save_image
from interp.featvis.objectives import DIVERSITY_WEIGHT
from interp.network.loading import load_model
from interp.story.catalogue import load_catalogue
from interp.story.roles import load_roles

REPO = Path(__file__).resolve().parents[1]

OUT = REPO / "assets" / "featvis"
EMERGENCE_UNIT, EMERGENCE_STEPS = "mixed4a:11", (0, 8, 16, 32, 64, 128, 256, 512)
DOG, CURVE = "mixed4b:409", "mixed3b:379"
FACETS = ("mixed4a:97", "mixed5a:9")
PICTURED_FAMILIES = ("Curve detectors", "Early curves")  # chapter 4's curve family shows every member's picture
# The attribution lab's first screen: the sample photo's building blocks (see building_block_units).
BLOCKS_PHOTO, BLOCKS_TARGET, BLOCKS_LAYERS, BLOCKS_PER_SIGN = "dalmatian.jpg", 41, ("mixed5b", "mixed4d"), 6


def building_block_units(model) -> list[str]:
    """The channels of BLOCKS_LAYERS that pushed "dalmatian" up or held it back most on the sample photo,
    as the Attribution lab computes them (layer IG from black, 16 steps), so its cards open with pictures.
    The photo is the app's committed default sample, assets/samples/dalmatian.jpg."""
    from interp.attribution import channel_attribution
    from interp.dataset.intake import load_image

    image = load_image(REPO / "assets" / "samples" / BLOCKS_PHOTO).tensor
    units = []
    for layer in BLOCKS_LAYERS:
        blocks = channel_attribution(model, image, layer, target=BLOCKS_TARGET, method="ig", steps=16)
        units += [f"{layer}:{s.channel}" for s in blocks.top(BLOCKS_PER_SIGN) + blocks.top(BLOCKS_PER_SIGN, sign=-1)]
    return units


def polysemantic_facets(model, size: int, steps: int) -> list[dict]:
    """Four facets of the polysemantic role's unit in one optimisation (chapter 5; the Microscope shows them too)."""
    unit = str(next(r.unit for r in load_roles() if r.id == "polysemantic"))
    result = render(
        model, obj.unit(unit) + DIVERSITY_WEIGHT * obj.diversity(unit.split(":")[0]), batch=4, size=size, steps=steps
    )
    return [
        {
            "unit": unit,
            "label": f"{unit}, facet {i + 1}",
            "file": save(result.images[i], f"diversity/{unit.replace(':', '_')}_{i}.jpg"),
        }
        for i in range(4)
    ]


def save(tensor, name: str) -> str:
    save_image(tensor_to_pil(tensor), OUT / name, "jpg")
    return name


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument(
        "--only-polysemantic",
        action="store_true",
        help="rerender only chapter 5's facets of the polysemantic role's unit (after the role changed) and keep the "
        "manifest's other sets as they are",
    )
    args = parser.parse_args()
    size, steps = args.size, args.steps
    model = load_model(device="cpu")
    if args.only_polysemantic:
        manifest = json.loads((OUT / "manifest.json").read_text(encoding="utf-8"))
        for old in manifest["sets"].get("polysemantic", []):
            (OUT / old["file"]).unlink(missing_ok=True)
        manifest["sets"]["polysemantic"] = polysemantic_facets(model, size, steps)
        (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        print(f"polysemantic facets -> {OUT / 'manifest.json'}")
        return
    started = time.perf_counter()
    sets: dict[str, list[dict]] = {}

    # The microscope's precomputed units: every unit the articles name, the curve family and its early curves,
    # every unit that plays one of the story's roles in these weights (interp/data/roles.json), and the sample
    # photo's building blocks, at the gallery's standard settings.
    catalogue = load_catalogue()
    named = sorted(
        {str(note.unit) for note in catalogue.units}
        | {f"{f.layer}:{c}" for f in catalogue.families if f.name in PICTURED_FAMILIES for c in f.channels}
        | {str(r.unit) for r in load_roles()}
        | set(building_block_units(model))
    )
    summary = render_gallery(
        model,
        [],
        named,
        out_dir=OUT / "gallery",
        size=size,
        steps=steps,
        batch_size=6,
        fmt="jpg",
        progress=lambda p: print(f"gallery {p}", flush=True),
    )
    print(f"gallery: rendered {len(summary['rendered'])}, skipped {len(summary['skipped'])}", flush=True)

    def gallery_file(unit: str) -> str:
        return "gallery/" + summary["units"][unit]["file"]

    # Emergence: snapshots of one render.
    snapshots: dict[int, object] = {}
    render(
        model,
        obj.unit(EMERGENCE_UNIT),
        size=size,
        steps=max(EMERGENCE_STEPS),
        every=8,
        progress=lambda step, images: snapshots.__setitem__(step, images[0]),
    )
    from interp.featvis.param import FourierImage

    snapshots[0] = FourierImage([0], size)()[0].detach()
    sets["emergence"] = [
        {"unit": EMERGENCE_UNIT, "label": f"step {s}", "file": save(snapshots[s], f"emergence/{s:04d}.jpg")}
        for s in EMERGENCE_STEPS
    ]

    # Naive versus robust, for one unit: pixels alone; pixels + transforms; Fourier + transforms.
    naive = []
    for label, param, transforms, name in (
        ("raw pixels, no transforms", "pixel", "none", "pixel-none"),
        ("raw pixels + transforms", "pixel", "standard", "pixel-standard"),
        ("Fourier + decorrelated colour + transforms (the recipe)", "fft", "standard", "fft-standard"),
    ):
        result = render(model, obj.unit(DOG), size=size, steps=steps, param=param, transforms=transforms)
        naive.append({"unit": DOG, "label": label, "file": save(result.images[0], f"naive/{name}.jpg")})
    sets["naive_vs_robust"] = naive

    # Neuron versus channel.
    pairs = []
    for unit in (DOG, CURVE):
        result = render(model, obj.unit(unit, kind="neuron"), size=size, steps=steps)
        pairs.append(
            {
                "unit": unit,
                "label": f"{unit}: neuron (centre position)",
                "file": save(result.images[0], f"neuron/{unit.replace(':', '_')}.jpg"),
            }
        )
        pairs.append({"unit": unit, "label": f"{unit}: channel (every position)", "file": gallery_file(unit)})
    sets["neuron_vs_channel"] = pairs

    # Diversity: four facets of a unit in one optimisation.
    facets = []
    for unit in FACETS:
        layer = unit.split(":")[0]
        result = render(
            model, obj.unit(unit) + DIVERSITY_WEIGHT * obj.diversity(layer), batch=4, size=size, steps=steps
        )
        facets += [
            {
                "unit": unit,
                "label": f"{unit}, facet {i + 1}",
                "file": save(result.images[i], f"diversity/{unit.replace(':', '_')}_{i}.jpg"),
            }
            for i in range(4)
        ]
    sets["diversity"] = facets

    # Chapter 5: the facets of the polysemantic unit found in these weights (interp/data/roles.json), the same way.
    sets["polysemantic"] = polysemantic_facets(model, size, steps)

    # Negative versus positive.
    negatives = []
    for unit in (CURVE, DOG):
        result = render(model, obj.unit(unit, negative=True), size=size, steps=steps)
        negatives.append({"unit": unit, "label": f"{unit}: positive", "file": gallery_file(unit)})
        negatives.append(
            {
                "unit": unit,
                "label": f"{unit}: negative (minimised before its ReLU)",
                "file": save(result.images[0], f"negative/{unit.replace(':', '_')}.jpg"),
            }
        )
    sets["negative"] = negatives

    manifest = {
        "about": "Written by tools/make_featvis_assets.py from the real weights. Do not edit by hand.",
        "recipe": f"Rendered by this project: {size} px, {steps} steps of Adam (lr 0.05) unless the label says "
        f"otherwise; Fourier parameterisation with decorrelated colour and the standard transforms.",
        "sets": sets,
    }
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
    print(f"done in {time.perf_counter() - started:.0f} s -> {OUT / 'manifest.json'}")


if __name__ == "__main__":
    main()
