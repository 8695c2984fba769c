"""Rebuild the dataset examples (interp/data/atlas.npz) from the real weights and the 1,000 photos.

    python tools/make_atlas.py                       # photos from INTERP_IMAGES_DIR, else the prefetch cache
    python tools/make_atlas.py --images ../shared/images/imagenet-samples --out /tmp/atlas.npz

About a minute on 2 CPU cores (BENCHMARKS.md). Every photo must be present locally: run
`python -m interp prefetch` first, or point --images at a copy.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from interp.dataset.atlas import ATLAS_FILE, build_atlas
from interp.dataset.photos import load_photos, photo_path
from interp.errors import InterpError
from interp.network.loading import load_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--images", default=None, help="folder holding the 1,000 photos (default: where the app finds them)"
    )
    parser.add_argument("--out", default=str(ATLAS_FILE), help=f"output file (default {ATLAS_FILE})")
    parser.add_argument("--batch", type=int, default=16, help="photos per forward pass (default 16)")
    parser.add_argument("--weights", default=None, help="weights file or folder (default: the bundled copy)")
    args = parser.parse_args(argv)

    photos = load_photos()
    try:
        if args.images:
            folder = Path(args.images)
        else:
            folder = photo_path(photos[0], fetch=False).parent
        missing = [photo.file for photo in photos if not (folder / photo.file).is_file()]
        if missing:
            raise InterpError(
                f"{len(missing)} of the {len(photos)} photos are not in {folder} (first: {missing[0]}). "
                "Run `python -m interp prefetch`, or give --images."
            )
        model = load_model(args.weights, device="cpu")
        started = time.perf_counter()

        def report(done: int, total: int | None) -> None:
            print(
                f"\r{done}/{total} photos, {time.perf_counter() - started:.0f} s", end="", file=sys.stderr, flush=True
            )

        meta = build_atlas(model, photos, folder, args.out, batch=args.batch, progress=report)
    except InterpError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    size = Path(args.out).stat().st_size
    print(
        f"\n{args.out}: {meta['photos']} photos x {len(meta['layers'])} layers in {meta['seconds']} s, "
        f"{size / 1e6:.2f} MB",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
