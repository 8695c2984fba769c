"""The autoencoder tested downstream: the SAE's layer replaced by its reconstruction for the rest of the forward pass,
and how much the network's own answers change, against replacing the layer by constants.

On the photos the autoencoder never saw (``held_out_photos``), each photo runs through the network once as it is and
once per variant of ``VARIANTS``, the layer rewritten by ``InceptionV1.run(edit=...)`` (nothing attached to the
model, so the one cached model can serve the app meanwhile):

* ``spliced``: the reconstruction ``decode(encode(a))`` at every position (the field's standard downstream test,
  the "downstream loss" of Gao et al. 2024);
* ``zero``: every channel 0;
* ``mean``: the layer's mean over the *training* photos (``training_photos``, the centre crop the held-out photos
  are seen in), **per channel and position** (C x 14 x 14). Every photo is centre-cropped to 224 px, so a position
  is the same place of the frame in every photo; this mean keeps what the layer carries at each place whatever the
  photo (at the frame's borders, say), so it is the closest constant to the real layer and
  the strongest of the constant baselines (a weaker one would flatter the autoencoder);
* ``mean_channel``: the same mean averaged over positions (per channel only), for comparison;
* ``neurons_k``: each position's ``k`` largest channels kept and the rest zeroed: as many active numbers per
  position as the autoencoder (L0 = k), in the neurons' own basis, a control the features could fail to beat.

InceptionV1 has no path around a block, so ``zero``, ``mean`` and ``mean_channel`` give every photo the same
logits: they are floors (what is left when the layer says nothing about the photo), not competitors.

Figures for each variant v, over the held-out photos:

* ``top1_v``: the share of photos whose top class (of the 1,000 real classes) is the original network's;
  ``top1_original`` is 1 by definition (the reference);
* ``top5_v``: the share whose original top class is among the variant's top 5;
* ``kl_v``: the mean over photos of KL(p_original || p_v), in nats, softmax over all 1,008 logits (the network's own);
* ``label_top1_v``, ``label_top5_v``: agreement with the photo's ImageNet label (one photo per class);
* ``kl_recovered_vs_zero``, ``kl_recovered_vs_mean``: 1 - kl_spliced / kl_zero (or kl_mean), the share of the
  ablation's damage that the reconstruction avoids (the field's "loss recovered", on the KL); against floors this
  low it is near 1 for any fair reconstruction, so ``neurons_k`` is the comparison that says more:
  ``spliced_worse_than_neurons_k`` counts the photos where the reconstruction costs more KL than it, and
  ``explained_variance_spliced`` / ``explained_variance_neurons_k`` say how much of the layer each keeps.

And, from the same passes, the features: ``l0_held_out`` (mean active features per held-out position) with
``l0_fixed_by_k``, and the dead features: ``dead_held_out`` (active at no held-out position), how many of them fire
on training photos (``dead_held_out_firing_on_training``, and on how many photos each: ``..._training_photos``),
``dead_everywhere`` (on neither), ``firing_held_out_only``.

**The shipped result** (``DOWNSTREAM_FILE``, ``interp/data/sae/downstream.json``): the whole held-out run, written
by ``python -m interp sae splice --write`` (:func:`downstream_record`, :func:`write_downstream`) and read by
:func:`load_downstream` (the app's chapter 6 draws it; nothing is computed at page load). It keeps every figure
above and, per photo, only the top class and the KL of each variant (no logits), with the SHA-256 of the
autoencoder and weights files it was measured with: the loader refuses a file left over from another autoencoder.
"""

from __future__ import annotations

import copy
import datetime
import hashlib
import json
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from interp.dataset.photos import Photo
from interp.network.labels import Labels
from interp.progress import Progress
from interp.sae.autoencoder import (
    SAE_DIR,
    SAE_FILE,
    SAEError,
    SparseAutoencoder,
    held_out_photos,
    l0_fixed_by_k,
    require_photos,
    topk_relu,
    training_photos,
)

VARIANTS = ("spliced", "zero", "mean", "mean_channel", "neurons_k")
MEAN_ABLATION = (
    "mean over the training photos (centre crop, 224 px) per channel and position: every photo is framed the same "
    "way, so this keeps what the layer carries at each place of the frame whatever the photo, the strongest "
    "constant baseline; mean_channel averages it over positions too"
)
CACHE_SUBDIR = "sae"
DOWNSTREAM_FILE = SAE_DIR / "downstream.json"
DOWNSTREAM_FORMAT = 1
WRITE_COMMAND = "python -m interp sae splice --write"


# -- the training photos: the layer's mean and where each feature fires ------------------------------------------


@dataclass(frozen=True)
class LayerStatistics:
    """What the layer and the autoencoder do on a set of photos (the training photos, for :func:`splice`):
    ``mean`` (C x h x w, float32), the layer's mean per channel and position; ``firing`` (F, int64), how many of
    the photos each feature is active on (somewhere on the grid); ``photos``, how many photos."""

    mean: torch.Tensor
    firing: np.ndarray
    photos: int

    @property
    def mean_channel(self) -> torch.Tensor:
        """The mean per channel only, broadcast back over the grid (C x h x w)."""
        return self.mean.mean(dim=(1, 2), keepdim=True).expand_as(self.mean)


def _images(photos: Sequence[Photo], folder: Path) -> torch.Tensor:
    from interp.dataset.intake import load_image

    return torch.cat([load_image(folder / photo.file).tensor for photo in photos])


def _device(model) -> torch.device:
    return next(model.parameters()).device


def _on(sae: SparseAutoencoder, device: torch.device) -> SparseAutoencoder:
    """The autoencoder on ``device`` (a copy when it is elsewhere: the shared one stays where it is)."""
    return sae if sae.W_enc.device == device else copy.deepcopy(sae).to(device)


def _by_position(fn: Callable[[torch.Tensor], torch.Tensor], value: torch.Tensor) -> torch.Tensor:
    """``fn`` applied to the channel vector at each position of N x C x h x w."""
    return fn(value.permute(0, 2, 3, 1)).permute(0, 3, 1, 2).to(value.dtype)


def layer_statistics(
    model,
    sae: SparseAutoencoder,
    photos: Sequence[Photo],
    images_dir: str | os.PathLike,
    *,
    batch: int = 16,
    progress: Progress | None = None,
) -> LayerStatistics:
    """The SAE's layer (post-ReLU, centre crop at 224 px) over ``photos``: its mean per channel and position, and
    on how many of the photos each feature fires. One forward pass per photo, to the layer; sums in float64."""
    folder = Path(images_dir)
    require_photos(photos, folder)
    device = _device(model)
    auto = _on(sae, device)
    total, firing = None, torch.zeros(sae.features, dtype=torch.int64)
    with torch.inference_mode():
        for start in range(0, len(photos), batch):
            chunk = photos[start : start + batch]
            acts = model.run(_images(chunk, folder).to(device), [sae.layer])[sae.layer].float()
            part = acts.double().sum(dim=0).cpu()
            total = part if total is None else total + part
            codes = auto.encode(acts.permute(0, 2, 3, 1).flatten(1, 2))  # photos x positions x F
            firing += (codes > 0).any(dim=1).sum(dim=0).cpu()
            if progress is not None:
                progress(start + len(chunk), len(photos))
    if total is None:
        raise ValueError("layer_statistics needs at least one photo")
    return LayerStatistics((total / len(photos)).float(), firing.numpy(), len(photos))


# -- the splice ----------------------------------------------------------------------------------------------------


def variant_edits(sae: SparseAutoencoder, statistics: LayerStatistics) -> dict[str, Callable]:
    """Each variant of ``VARIANTS`` as the function ``InceptionV1.run(edit={layer: fn})`` applies to the layer's
    N x C x h x w activations (the autoencoder and the means on the activations' device)."""
    cache: dict = {}

    def on(value: torch.Tensor):
        if value.device not in cache:
            cache[value.device] = (
                _on(sae, value.device),
                statistics.mean.to(value.device),
                statistics.mean_channel.to(value.device),
            )
        return cache[value.device]

    return {
        "spliced": lambda v: _by_position(on(v)[0], v),
        "zero": torch.zeros_like,
        "mean": lambda v: on(v)[1].to(v.dtype).expand_as(v),
        "mean_channel": lambda v: on(v)[2].to(v.dtype).expand_as(v),
        "neurons_k": lambda v: _by_position(lambda a: topk_relu(a, sae.k), v),
    }


def _top(logits: torch.Tensor, real: torch.Tensor, k: int) -> torch.Tensor:
    """The ``k`` highest real classes of each row (N x k logit indices), dummy classes never chosen."""
    return logits.masked_fill(~real, float("-inf")).topk(k, dim=-1).indices


def kl_divergence(reference: torch.Tensor, other: torch.Tensor) -> torch.Tensor:
    """KL(softmax(reference) || softmax(other)) per row of two N x classes logit tensors, in nats (float64)."""
    p = reference.double().log_softmax(dim=-1)
    q = other.double().log_softmax(dim=-1)
    return (p.exp() * (p - q)).sum(dim=-1).clamp_min(0.0)


def splice(
    model,
    sae: SparseAutoencoder,
    images_dir: str | os.PathLike,
    *,
    photos: Sequence[Photo] | None = None,
    statistics: LayerStatistics | None = None,
    labels: Labels | None = None,
    variants: Sequence[str] = VARIANTS,
    batch: int = 16,
    progress: Progress | None = None,
) -> dict:
    """The downstream test of the module docstring: on ``photos`` (default: the autoencoder's held-out photos), the
    network as it is against the network with the SAE's layer replaced by each of ``VARIANTS``. ``statistics``:
    :func:`layer_statistics` over the photos the means come from (default: computed now over the training photos,
    900 forward passes). ``labels`` names the real classes (default: ``load_labels()``); ``variants``: which of
    ``VARIANTS`` to run (each costs one forward pass per photo; the figures of the others are left out).

    Returns a dict: ``layer``, ``features``, ``k``, ``held_out_photos`` (ids), ``training_photos`` (how many the
    means and the training firing come from), ``mean_ablation`` (which mean, and why), for each variant v (and
    ``original``) ``top1_v``, ``top5_v``, ``kl_v``, ``label_top1_v``, ``label_top5_v``; ``kl_recovered_vs_zero``,
    ``kl_recovered_vs_mean``; ``spliced_worse_than_neurons_k`` (photos whose KL the reconstruction makes larger
    than the k largest neurons do); ``explained_variance_spliced`` and ``explained_variance_neurons_k`` (of the
    layer at the photos' positions, as ``reconstruction_stats`` measures it); the features' ``l0_held_out``,
    ``l0_fixed_by_k``, ``dead_held_out``, ``dead_held_out_firing_on_training``, ``dead_held_out_training_photos``
    (median, min and max photos among those that fire), ``dead_everywhere``, ``firing_held_out_only``; and
    ``per_photo``: for each photo its id, label index, each variant's top class and KL.
    """
    from interp.network.loading import load_labels

    unknown = [name for name in variants if name not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown variants {unknown}: choose among {', '.join(VARIANTS)}")
    variants = [name for name in VARIANTS if name in variants]
    folder = Path(images_dir)
    photos = list(held_out_photos(every=sae.held_out_every) if photos is None else photos)
    if not photos:
        raise ValueError("splice needs at least one photo")
    require_photos(photos, folder)
    done = 0  # photos through the network so far, for ``progress``
    if statistics is None:
        training = training_photos(every=sae.held_out_every)
        require_photos(training, folder)
        done, total = len(training), len(training) + len(photos)
        report = (lambda count, _: progress(count, total)) if progress is not None else None
        statistics = layer_statistics(model, sae, training, folder, batch=batch, progress=report)
    if len(statistics.firing) != sae.features:
        raise ValueError(
            f"the statistics count {len(statistics.firing)} features' firing, the autoencoder has {sae.features}"
        )
    labels = load_labels() if labels is None else labels
    device = _device(model)
    real = torch.zeros(len(labels), dtype=torch.bool)
    real[list(labels.real_indices)] = True
    edits = variant_edits(sae, statistics)
    auto = _on(sae, device)
    logits: dict[str, list[torch.Tensor]] = {name: [] for name in ("original", *variants)}
    held_firing = torch.zeros(sae.features, dtype=torch.int64)
    active = positions = 0
    sums = torch.zeros(sae.d, dtype=torch.float64)
    squares = error_spliced = error_neurons = 0.0
    with torch.inference_mode():
        for start in range(0, len(photos), batch):
            images = _images(photos[start : start + batch], folder).to(device)
            out = model.run(images, [sae.layer, "logits"])
            logits["original"].append(out["logits"].float().cpu())
            acts = out[sae.layer].float().permute(0, 2, 3, 1).flatten(1, 2)  # photos x positions x C
            codes = auto.encode(acts)  # photos x positions x F
            held_firing += (codes > 0).any(dim=1).sum(dim=0).cpu()
            active += int((codes > 0).sum())
            positions += codes.shape[0] * codes.shape[1]
            sums += acts.double().sum(dim=(0, 1)).cpu()
            squares += float(acts.double().pow(2).sum())
            error_spliced += float((auto.decode(codes) - acts).double().pow(2).sum())
            error_neurons += float((topk_relu(acts, sae.k) - acts).double().pow(2).sum())
            for name in variants:
                edited = model.run(images, ["logits"], edit={sae.layer: edits[name]})["logits"]
                logits[name].append(edited.float().cpu())
            if progress is not None:
                progress(done + start + len(images), done + len(photos))
    joined = {name: torch.cat(values) for name, values in logits.items()}
    original = joined["original"]
    first = _top(original, real, 1)[:, 0]
    truth = torch.tensor([photo.index for photo in photos])
    result: dict = {
        "layer": sae.layer,
        "features": sae.features,
        "k": sae.k,
        "held_out_photos": [photo.id for photo in photos],
        "training_photos": statistics.photos,
        "mean_ablation": MEAN_ABLATION,
    }
    per_photo: list[dict] = [{"id": photo.id, "label": photo.index} for photo in photos]
    for name, values in joined.items():
        top5 = _top(values, real, 5)
        kl = kl_divergence(original, values)
        result[f"top1_{name}"] = float((top5[:, 0] == first).double().mean())
        result[f"top5_{name}"] = float((top5 == first[:, None]).any(dim=1).double().mean())
        result[f"kl_{name}"] = float(kl.mean())
        result[f"label_top1_{name}"] = float((top5[:, 0] == truth).double().mean())
        result[f"label_top5_{name}"] = float((top5 == truth[:, None]).any(dim=1).double().mean())
        for row, entry in enumerate(per_photo):
            entry[name] = int(top5[row, 0])
            if name != "original":
                entry[f"kl_{name}"] = float(kl[row])
    for baseline in ("zero", "mean"):
        if "spliced" not in variants or baseline not in variants:
            continue
        damage = result[f"kl_{baseline}"]
        result[f"kl_recovered_vs_{baseline}"] = 1.0 - result["kl_spliced"] / damage if damage > 0 else None
    if "spliced" in variants and "neurons_k" in variants:
        worse = sum(entry["kl_spliced"] > entry["kl_neurons_k"] for entry in per_photo)
        result["spliced_worse_than_neurons_k"] = int(worse)
    total = squares - float(sums.pow(2).sum()) / positions  # sum |a - mean|^2 over the held-out positions
    result["explained_variance_spliced"] = 1.0 - error_spliced / total
    result["explained_variance_neurons_k"] = 1.0 - error_neurons / total
    l0 = active / positions
    result |= dead_features(held_firing.numpy(), statistics.firing)
    result |= {"l0_held_out": l0, "l0_fixed_by_k": l0_fixed_by_k(l0, sae.k), "per_photo": per_photo}
    return result


def dead_features(held_out_firing: np.ndarray, training_firing: np.ndarray) -> dict:
    """The features active on none of the held-out photos, told apart by whether they fire on training photos.
    Arguments: per feature, on how many held-out (training) photos it is active.

    Returns ``dead_held_out``, ``dead_held_out_firing_on_training`` (of those, active on at least one training
    photo), ``dead_held_out_training_photos`` ({median, min, max} training photos those fire on; None when there
    are none), ``dead_everywhere`` (active on no photo of either) and ``firing_held_out_only``."""
    held, trained = np.asarray(held_out_firing) > 0, np.asarray(training_firing)
    dead = ~held
    revived = dead & (trained > 0)
    counts = trained[revived]
    spread = (
        {"median": float(np.median(counts)), "min": int(counts.min()), "max": int(counts.max())}
        if len(counts)
        else None
    )
    return {
        "dead_held_out": int(dead.sum()),
        "dead_held_out_firing_on_training": int(revived.sum()),
        "dead_held_out_training_photos": spread,
        "dead_everywhere": int((dead & (trained == 0)).sum()),
        "firing_held_out_only": int((held & (trained == 0)).sum()),
    }


# -- a cache on disk, for the app ----------------------------------------------------------------------------------


def splice_key(model, sae: SparseAutoencoder, photos: Sequence[Photo]) -> str | None:
    """What a :func:`splice` result depends on, as a hex digest: the weights file, the autoencoder's numbers and the
    photos; None for a model not read from a file (then nothing is cached)."""
    from interp.dataset.download import file_sha256

    weights = getattr(model, "weights_path", None)
    if weights is None:
        return None
    digest = hashlib.sha256(file_sha256(Path(weights)).encode())
    for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
        digest.update(getattr(sae, name).detach().float().cpu().numpy().tobytes())
    digest.update(json.dumps([sae.layer, sae.k, sae.input_scale, sae.held_out_every, VARIANTS]).encode())
    digest.update(json.dumps([photo.id for photo in photos]).encode())
    return digest.hexdigest()


def cached_splice(
    model,
    sae: SparseAutoencoder,
    images_dir: str | os.PathLike,
    *,
    refresh: bool = False,
    labels: Labels | None = None,
    progress: Progress | None = None,
) -> dict:
    """:func:`splice` on the held-out photos, kept as JSON in ``cache_dir()/sae/`` under :func:`splice_key`, so a
    second call (another process, the app after the command line) reads it back. ``refresh``: compute it anew."""
    from interp.paths import cache_dir

    key = splice_key(model, sae, held_out_photos(every=sae.held_out_every))
    path = cache_dir() / CACHE_SUBDIR / f"splice-{key[:32]}.json" if key else None
    if path is not None and path.is_file() and not refresh:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass  # unreadable: computed again and rewritten
    result = splice(model, sae, images_dir, labels=labels, progress=progress)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".part")
        partial.write_text(json.dumps(result), encoding="utf-8")
        os.replace(partial, path)
    return result


# -- the shipped result --------------------------------------------------------------------------------------------


def downstream_record(
    result: dict,
    *,
    sae_file: str | os.PathLike = SAE_FILE,
    weights_file: str | os.PathLike | None = None,
    built: str | None = None,
) -> dict:
    """What ships of a :func:`splice` result: every figure; per photo its id, label, and each variant's top class
    and KL (``per_photo`` as :func:`splice` gives it, nothing else kept: no logits); and what it was measured with:
    ``format``, ``sae_sha256`` (of ``sae_file``), ``weights_sha256`` (of ``weights_file``; None when not read
    from a file), ``built`` (today's date unless given) and ``command``."""
    from interp.dataset.download import file_sha256

    if "per_photo" not in result:
        raise ValueError("downstream_record needs the per-photo figures (splice returns them)")
    names = ["original", *(name for name in VARIANTS if f"kl_{name}" in result)]
    keep = ("id", "label", *names, *(f"kl_{name}" for name in names[1:]))
    per_photo = [{key: entry[key] for key in keep if key in entry} for entry in result["per_photo"]]
    return {
        "format": DOWNSTREAM_FORMAT,
        **{key: value for key, value in result.items() if key != "per_photo"},
        "per_photo": per_photo,
        "sae_sha256": file_sha256(Path(sae_file)),
        "weights_sha256": file_sha256(Path(weights_file)) if weights_file is not None else None,
        "built": built or datetime.date.today().isoformat(),
        "command": WRITE_COMMAND,
    }


def write_downstream(record: dict, path: str | os.PathLike = DOWNSTREAM_FILE) -> Path:
    """:func:`downstream_record`'s dict written as JSON to ``path`` (whole or not at all); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".part")
    partial.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    os.replace(partial, path)
    return path


def load_downstream(
    path: str | os.PathLike = DOWNSTREAM_FILE, *, sae_file: str | os.PathLike | None = SAE_FILE
) -> dict:
    """The shipped downstream test (:func:`downstream_record`'s dict), read from ``path``. Raises
    :class:`SAEError` when the file is missing, unreadable, of another format, or measured with another autoencoder
    than ``sae_file`` (its SHA-256; None skips that check)."""
    from interp.dataset.download import file_sha256

    path = Path(path)
    fix = f"Write it with `{WRITE_COMMAND}` (about 1,000 forward passes; needs the photos)."
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SAEError(f"The autoencoder's downstream test is not in {path}. {fix}") from None
    except (OSError, ValueError) as error:
        raise SAEError(f"The autoencoder's downstream test in {path} cannot be read ({error}). {fix}") from None
    if not isinstance(record, dict) or record.get("format") != DOWNSTREAM_FORMAT:
        raise SAEError(f"{path} is not a downstream test of format {DOWNSTREAM_FORMAT}. {fix}")
    if sae_file is not None and Path(sae_file).is_file() and record.get("sae_sha256") != file_sha256(Path(sae_file)):
        raise SAEError(f"{path} was measured with another autoencoder than {Path(sae_file).name}. {fix}")
    return record
