"""Train the sparse autoencoder of chapter 6 on mixed4e and write interp/data/sae/ (the autoencoder, its feature
atlas and the training log).

    python tools/train_sae.py                        # photos from INTERP_IMAGES_DIR, else the prefetch cache
    python tools/train_sae.py --images ../shared/images/imagenet-samples --threads 2
    python tools/train_sae.py --photos 100 --epochs 1 --out-dir /tmp/sae   # a quick smoke run

1. mixed4e's post-ReLU activation vector at every position (14 x 14) of every photo, each photo centre-cropped
   to 224 px as for the atlas: 196,000 vectors of 832 channels for the 1,000 photos;
2. photos 0, 10, 20, ... of the collection (every 10th, ``interp.sae.held_out_photos``) are held out; the
   autoencoder trains on every position of the other 900, each seen in the ``--views`` of ``interp.sae.VIEWS``
   (the centre crop, and by default also mirrored, whole and zoomed: 820,800 positions, more varied than 900
   centre crops), deterministically (seeded; the same file for the same thread count);
3. writes ``mixed4e.pt`` (float16 weights), ``mixed4e_examples.npz`` (every feature's top photos of the
   1,000) and ``training_log.json`` (settings, per-epoch loss and held-out explained variance, final
   figures, time, peak memory, machine).

Every photo must be present locally: run `python -m interp prefetch` first, or give --images.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import torch

from interp.dataset.download import file_sha256
from interp.dataset.photos import load_photos, local_path
from interp.errors import InterpError
from interp.network.loading import load_model
from interp.sae import (
    EXAMPLES_FILE,
    HELD_OUT_EVERY,
    LAYER,
    LOG_FILE,
    SAE_FILE,
    VIEWS,
    TrainingSettings,
    build_feature_atlas,
    held_out_photos,
    load_sae,
    photo_activations,
    reconstruction_stats,
    require_photos,
    train,
)

DEFAULTS = TrainingSettings(features=2560, k=32, epochs=5)


def peak_rss_mb() -> float:
    """The process's peak resident memory so far, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / 1e6


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` to ``path`` whole or not at all."""
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--images", default=None, help="folder holding the 1,000 photos (default: where the app finds them)"
    )
    parser.add_argument("--out-dir", default=str(SAE_FILE.parent), help=f"output folder (default {SAE_FILE.parent})")
    parser.add_argument("--photos", type=int, default=None, help="use only the first N photos (a smoke run)")
    parser.add_argument(
        "--views",
        default=",".join(VIEWS),
        help=f"how training sees each photo, a comma list of "
        f"{', '.join(VIEWS)} (default: all; the held-out figures use the centre crop only)",
    )
    parser.add_argument("--features", type=int, default=DEFAULTS.features, help=f"default {DEFAULTS.features}")
    parser.add_argument(
        "--k", type=int, default=DEFAULTS.k, help=f"active features per position (default {DEFAULTS.k})"
    )
    parser.add_argument("--epochs", type=int, default=DEFAULTS.epochs, help=f"default {DEFAULTS.epochs}")
    parser.add_argument(
        "--batch", type=int, default=DEFAULTS.batch, help=f"positions per step (default {DEFAULTS.batch})"
    )
    parser.add_argument("--lr", type=float, default=DEFAULTS.lr, help=f"Adam's learning rate (default {DEFAULTS.lr})")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed, help=f"default {DEFAULTS.seed}")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch threads (default: torch's)")
    parser.add_argument("--weights", default=None, help="weights file or folder (default: the bundled copy)")
    parser.add_argument(
        "--cache",
        default=None,
        help="folder where each view's activations are kept and reused "
        "(to try other training settings without running the model again)",
    )
    args = parser.parse_args(argv)

    torch.set_num_threads(args.threads)
    settings = TrainingSettings(
        features=args.features, k=args.k, epochs=args.epochs, batch=args.batch, lr=args.lr, seed=args.seed
    )
    out_dir = Path(args.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sae_path, atlas_path, log_path = out_dir / SAE_FILE.name, out_dir / EXAMPLES_FILE.name, out_dir / LOG_FILE.name
    views = [view.strip() for view in args.views.split(",") if view.strip()]
    if "centre" not in views or any(view not in VIEWS for view in views):
        parser.error(f"--views: a comma list of {', '.join(VIEWS)} that includes centre")
    started = time.perf_counter()
    try:
        photos = load_photos()[: args.photos]
        folder = Path(args.images) if args.images else local_path(photos[0]).parent
        require_photos(photos, folder)
        model = load_model(args.weights, device="cpu")
        weights_sha256 = file_sha256(Path(model.weights_path))
        held = torch.tensor([i % HELD_OUT_EVERY == 0 for i in range(len(photos))])
        training_photos = [photo for photo, out in zip(photos, held.tolist()) if not out]
        acts, train_parts, reused = None, [], []
        for view in views:
            chosen = photos if view == "centre" else training_photos

            def extracted(done: int, total: int | None, view: str = view) -> None:
                print(
                    f"\r{view}: {done}/{total} photos, {time.perf_counter() - started:.0f} s",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )

            cached = Path(args.cache) / f"{LAYER}-{view}-{len(chosen)}-{weights_sha256[:16]}.pt" if args.cache else None
            if cached is not None and cached.is_file():
                value = torch.load(cached, weights_only=True)
                print(f"{view}: {len(chosen)} photos from {cached}", file=sys.stderr)
                reused.append(view)
            else:
                value = photo_activations(model, chosen, folder, LAYER, view=view, progress=extracted)
                print(file=sys.stderr)
                if cached is not None:
                    cached.parent.mkdir(parents=True, exist_ok=True)
                    torch.save(value, cached)
            if view == "centre":
                acts = value  # every photo, for the held-out figures and the feature atlas
                value = value[~held]
            train_parts.append(value.reshape(-1, value.shape[-1]).half())  # half the memory; see train()
            del value
    except InterpError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    seconds_activations = time.perf_counter() - started
    held_acts = acts[held].reshape(-1, acts.shape[-1])
    train_acts = torch.cat(train_parts)
    del train_parts
    print(
        f"{len(training_photos)} training photos x {len(views)} views ({len(train_acts):,} positions), "
        f"{int(held.sum())} held out ({len(held_acts):,} positions); {settings}",
        file=sys.stderr,
    )

    def validate(sae) -> dict:
        stats = reconstruction_stats(sae, held_acts)
        return {"held_out_explained_variance": round(stats["explained_variance"], 5), "held_out_dead": stats["dead"]}

    def report(record: dict) -> None:
        print(
            f"epoch {record['epoch']}/{settings.epochs}: loss {record['loss']:.4f}, aux {record['aux_loss']:.4f}, "
            f"dead {record['dead']}, held-out EV {record['held_out_explained_variance']:.4f} "
            f"({record['seconds']:.0f} s)",
            file=sys.stderr,
            flush=True,
        )

    train_started = time.perf_counter()
    sae, history = train(train_acts, settings, validate=validate, progress=report)
    seconds_training = time.perf_counter() - train_started

    partial = sae_path.with_name(sae_path.name + ".part")
    torch.save(sae.state(), partial)
    os.replace(partial, sae_path)
    load_sae.cache_clear()
    shipped = load_sae(sae_path)  # the figures below are the file's (float16 weights), not the float32 copy's
    held_out = reconstruction_stats(shipped, held_acts)
    trained_on = reconstruction_stats(shipped, train_acts)
    atlas_started = time.perf_counter()
    sae_sha256 = file_sha256(sae_path)
    build_feature_atlas(shipped, acts, [photo.id for photo in photos], atlas_path, {"sae_sha256": sae_sha256})
    seconds_atlas = time.perf_counter() - atlas_started

    log = {
        "layer": LAYER,
        "features": shipped.features,
        "k": shipped.k,
        "input_scale": shipped.input_scale,
        "settings": settings.as_dict(),
        "data": {
            "photos": len(photos),
            "training_photos": len(training_photos),
            "held_out_rule": f"photo i of the collection (file order) with i % {HELD_OUT_EVERY} == 0",
            "views": {view: VIEWS[view] for view in views},
            "train_positions": len(train_acts),
            "held_out_positions": len(held_acts),
            "held_out_view": "centre crop, 224 px (interp.dataset.intake.load_image), 14 x 14 positions; post-ReLU",
        },
        "epochs": history,
        "definitions": {
            "explained_variance": "1 - sum |a - a_hat|^2 / sum |a - mean(a)|^2 over the positions",
            "l0": "mean number of active features per position",
            "dead": "features active at none of the positions",
        },
        "held_out": {key: held_out[key] for key in ("explained_variance", "l0", "dead", "positions")},
        "train": {key: trained_on[key] for key in ("explained_variance", "l0", "dead", "positions")},
        "held_out_photos": [photo.id for photo in held_out_photos(photos)],
        "files": {path.name: {"bytes": path.stat().st_size} for path in (sae_path, atlas_path)},
        "sae_sha256": sae_sha256,
        "activations_from_cache": reused,
        "seconds": {
            "activations": round(seconds_activations, 1),
            "training": round(seconds_training, 1),
            "feature_atlas": round(seconds_atlas, 1),
            "total": round(time.perf_counter() - started, 1),
        },
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "machine": {
            "platform": platform.platform(),
            "processor": platform.machine(),
            "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
            "gpu": None,
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "weights_sha256": weights_sha256,
        "built": time.strftime("%Y-%m-%d"),
    }
    write_json(log_path, log)
    print(
        f"held out: explained variance {held_out['explained_variance']:.4f}, L0 {held_out['l0']:.2f}, dead "
        f"{held_out['dead']} of {shipped.features}; training positions: explained variance "
        f"{trained_on['explained_variance']:.4f}",
        file=sys.stderr,
    )
    print(
        f"{sae_path} ({sae_path.stat().st_size / 1e6:.2f} MB), "
        f"{atlas_path} ({atlas_path.stat().st_size / 1e6:.2f} MB), "
        f"{log_path}; {log['seconds']['total']:.0f} s in all, peak RSS {log['peak_rss_mb']:.0f} MB",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
