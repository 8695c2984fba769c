"""Find the story's characters in these weights and write interp/data/roles.json (see interp/story/roles.py).

    python tools/find_roles.py                      # photos from INTERP_IMAGES_DIR, else the prefetch cache
    python tools/find_roles.py --images ../shared/images/imagenet-samples --out /tmp/roles_candidate.json
    python tools/find_roles.py --sweep .cache/sweep.npz   # keep the photo sweep, and reuse it next time

Needs the atlas (tools/make_atlas.py) and the 1,000 photos on disk: every photo runs through the model mirrored,
resized with another filter and on an aligned mirror grid (interp.story.photo_sweep, 4,000 forward passes; measured
0.43 s a photo, about 7 minutes, on 2 lightly loaded CPU cores, and 49 minutes on a heavily loaded one), then the
roles are measured (about 2.5 minutes more: the car-logit ablation alone is about 1,400 forward passes). Prints each
role, the unit that plays it, and its held-out figure, base rate and runners-up.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from interp.dataset.atlas import load_atlas
from interp.dataset.photos import load_photos, photo_path
from interp.errors import InterpError
from interp.network.loading import load_model
from interp.story.find_roles import find_roles, split_photos, write_roles
from interp.story.hierarchy import group_of
from interp.story.photo_sweep import load_sweep, save_sweep, sweep
from interp.story.roles import ROLES_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--images", default=None, help="folder holding the 1,000 photos (default: where the app finds them)"
    )
    parser.add_argument("--out", default=str(ROLES_FILE))
    parser.add_argument("--sweep", default=None, help="an .npz to keep the photo sweep in (read when it exists)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        folder = Path(args.images) if args.images else photo_path(load_photos()[0], fetch=False).parent
        atlas = load_atlas()
        model = load_model(device="cpu")
        found = load_sweep(args.sweep) if args.sweep else None
        if found is None:
            held, _ = split_photos(atlas.photos)
            groups = [int(h) if group_of(p.synset) == "dog" else -1 for p, h in zip(atlas.photos, held)]
            found = sweep(
                model,
                [folder / p.file for p in atlas.photos],
                [p.id for p in atlas.photos],
                groups,
                progress=lambda done, total: (
                    print(f"sweep {done}/{total}", file=sys.stderr) if done % 100 < 8 else None
                ),
            )
            if args.sweep:
                save_sweep(found, args.sweep)
        roles = find_roles(model, atlas, folder, found_sweep=found)
    except InterpError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    write_roles(
        roles,
        args.out,
        meta={"atlas_built": atlas.meta.get("built"), "weights_sha256": atlas.meta.get("weights_sha256")},
    )
    for r in roles:
        print(r.summary())
        for line in r.evidence_lines():
            print(f"    {line}")
    print(f"{args.out}: {len(roles)} roles in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
