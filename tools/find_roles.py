"""Find the story's characters in these weights and write interp/data/roles.json (see interp/story/roles.py).

    python tools/find_roles.py                      # photos from INTERP_IMAGES_DIR, else the prefetch cache
    python tools/find_roles.py --images ../shared/images/imagenet-samples

Needs the atlas (tools/make_atlas.py) and the dog photos on disk (a mirror test runs the model on them); about
half a minute on 2 CPU cores. Prints each role, the unit that plays it and the article's number.
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
from interp.story.find_roles import find_roles, write_roles
from interp.story.roles import ROLES_FILE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--images", default=None, help="folder holding the 1,000 photos (default: where the app finds them)"
    )
    parser.add_argument("--out", default=str(ROLES_FILE))
    args = parser.parse_args(argv)
    started = time.perf_counter()
    try:
        folder = Path(args.images) if args.images else photo_path(load_photos()[0], fetch=False).parent
        atlas = load_atlas()
        roles = find_roles(load_model(device="cpu"), atlas, folder)
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
    print(f"{args.out}: {len(roles)} roles in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
