"""One pass over the 1,000 photos in the variants the roles are tested on: mirrored, resized another way, and
mirrored on an aligned grid, so that activation *maps* (not only their maxima) can be compared with a photo's
mirror image. Offline only (``interp.story.find_roles`` and ``tools/find_roles.py``); the app never runs it.

The atlas (``interp.dataset.atlas``) holds each unit's maximum on the photos as the app shows them (centre crop,
Lanczos to 224 px, ``interp.dataset.intake.load_image``). :func:`sweep` adds, per photo:

* ``mirror``: the app's picture flipped left to right (its maxima);
* ``bilinear``: the same centre crop resized to 224 px with Pillow's bilinear filter instead (its maxima);
* ``aligned`` / ``aligned_mirror``: a picture and its mirror image cut so that the network's grid falls on the
  same places of the scene in both (below), with the statistics of every unit's map against the other's map
  flipped back (:class:`MapSums`), and, over chosen groups of photos, of every pair of units (:class:`PairSums`).

**Alignment.** Stride-2 layers with TensorFlow's "SAME" padding put the extra pixel after, so the grid of a deep
layer is not symmetric about the picture's centre: the flipped-back map of a mirror image is offset by part of
a cell. :func:`mirror_alignment` measures, for a layer, the shift (in pixels of the picture) at which the maps
of the whole layer best match their mirror images; ``aligned`` is columns ``0 .. 223`` and ``aligned_mirror``
the mirror image of columns ``shift .. shift + 223`` of the same picture resized to ``224 + shift`` px.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from interp.network.layers import LAYERS

SWEEP_LAYERS = ("mixed3a", "mixed3b", "mixed4b", "mixed4c", "mixed4e")  # the layers the roles live in
MAP_LAYERS = ("mixed4b", "mixed4c")  # the dog heads' layers: their maps are compared with the mirror's
PAIR_LAYER = "mixed4b"  # the mirror pair's layer: every pair of its units is compared
VARIANTS = ("mirror", "bilinear", "aligned", "aligned_mirror")
MIRROR_SHIFT = 10  # px: measured by mirror_alignment for mixed4b and mixed4c (tests/test_role_evidence.py)
SWEEP_FORMAT = 1


def bilinear_image(path: str | os.PathLike, size: int = 224):
    """The photo's centre square resized to ``size`` px with Pillow's bilinear filter (the app uses Lanczos):
    1 x 3 x size x size in [0, 1]."""
    from PIL import Image, ImageOps

    from interp.dataset.intake import pil_to_tensor

    with Image.open(path) as image:
        image = ImageOps.exif_transpose(image).convert("RGB")
        w, h = image.size
        side = min(w, h)
        left, top = (w - side) // 2, (h - side) // 2
        square = image.resize((size, size), Image.Resampling.BILINEAR, box=(left, top, left + side, top + side))
    return pil_to_tensor(square).unsqueeze(0)


def aligned_pair(path: str | os.PathLike, shift: int = MIRROR_SHIFT):
    """(picture, its mirror image), each 1 x 3 x 224 x 224, cut from the photo resized to ``224 + shift`` px so
    that the grid of the deep layers falls on the same places of the scene in both (the module's docstring)."""
    from interp.dataset.intake import load_image

    big = load_image(path, size=224 + shift).tensor
    top = shift // 2
    rows = slice(top, top + 224)
    return big[:, :, rows, :224], big[:, :, rows, shift : shift + 224].flip(-1)


def _flat_corr(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.corrcoef(a.ravel(), b.ravel())[0, 1])


def mirror_alignment(model, paths: Sequence[str | os.PathLike], layer: str, shifts: Sequence[int] = range(17)) -> dict:
    """For each shift (px), the correlation of the whole layer's maps on a picture with its maps on the mirror image
    flipped back, averaged over ``paths``: ``{"shifts": [...], "r": [...], "best": shift}``."""
    import torch

    from interp.dataset.intake import load_image

    widest = max(shifts)
    total = np.zeros(len(shifts))
    for path in paths:
        big = load_image(path, size=224 + widest).tensor
        top = widest // 2
        rows = slice(top, top + 224)
        batch = torch.cat([big[:, :, rows, :224]] + [big[:, :, rows, s : s + 224].flip(-1) for s in shifts])
        with torch.inference_mode():
            act = model.run(batch, (layer,))[layer].float().cpu().numpy()
        total += [_flat_corr(act[0], act[1 + i][..., ::-1]) for i in range(len(shifts))]
    r = total / max(len(paths), 1)
    return {"shifts": list(shifts), "r": [round(float(v), 4) for v in r], "best": int(list(shifts)[int(r.argmax())])}


@dataclass(frozen=True)
class MapSums:
    """Per photo and unit, sums over the grid of a map ``a`` and the mirror image's map flipped back ``b``:
    ``sums[photo, k, unit]`` for k = (a, b, a², b², ab). Summed over any set of photos they give Pearson's r of
    ``a`` and ``b`` pooled over those photos and every position (:meth:`correlation`)."""

    sums: np.ndarray  # photos x 5 x units, float64
    cells: int  # positions per map

    def correlation(self, photos: np.ndarray | None = None) -> np.ndarray:
        """Per unit: r of its map with its mirror image's map flipped back, pooled over ``photos`` (a boolean mask
        or indices; default all) and every position. 0 for a unit silent on them."""
        s = (self.sums if photos is None else self.sums[photos]).sum(0)
        n = self.cells * (len(self.sums) if photos is None else len(self.sums[photos]))
        return pooled_r(n, s[0], s[1], s[2], s[3], s[4])


def pooled_r(n, sa, sb, saa, sbb, sab) -> np.ndarray:
    """Pearson's r from sums over n pairs (any broadcastable shapes); 0 where either side is constant."""
    cov = sab - sa * sb / n
    var = (saa - sa * sa / n) * (sbb - sb * sb / n)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = cov / np.sqrt(var)
    return np.where(var > 0, r, 0.0)


@dataclass(frozen=True)
class PairSums:
    """For groups of photos, sums over photos and positions for every pair (i, j) of a layer's units:
    ``mirror[g, i, j]`` = sum of a_i * b_j (unit i on the picture, unit j on the mirror image flipped back) and
    ``plain[g, i, j]`` = sum of a_i * a_j (both on the picture); the per-unit sums come from :class:`MapSums`."""

    mirror: np.ndarray  # groups x units x units
    plain: np.ndarray  # groups x units x units


@dataclass(frozen=True)
class Sweep:
    """What :func:`sweep` measured, photo rows in the order of ``photos`` (ids)."""

    photos: tuple[str, ...]
    maxima: dict[str, dict[str, np.ndarray]]  # variant -> layer -> photos x units (float32)
    maps: dict[str, MapSums]  # layer -> the aligned pair's map sums
    pairs: PairSums  # PAIR_LAYER, over the groups given to sweep
    pair_groups: np.ndarray  # per photo: the group it was summed into, -1 for none
    shift: int

    def pair_correlation(self, group: int | Sequence[int], units: np.ndarray | None = None) -> tuple[np.ndarray, ...]:
        """(mirror r, plain r) of every pair of ``PAIR_LAYER``'s units (or of ``units``), pooled over the photos of
        ``group`` (one group or several) and every position: mirror r[i, j] compares unit i on a picture with
        unit j on its mirror image flipped back; plain r[i, j] both on the picture."""
        groups = [group] if isinstance(group, int) else list(group)
        keep = np.isin(self.pair_groups, groups)
        s = self.maps[PAIR_LAYER].sums[keep].sum(0)
        n = self.maps[PAIR_LAYER].cells * int(keep.sum())
        idx = np.arange(s.shape[1]) if units is None else np.asarray(units)
        sa, sb, saa, sbb = (s[k][idx] for k in range(4))
        mirror = self.pairs.mirror[groups].sum(0)[np.ix_(idx, idx)]
        plain = self.pairs.plain[groups].sum(0)[np.ix_(idx, idx)]
        r_mirror = pooled_r(n, sa[:, None], sb[None, :], saa[:, None], sbb[None, :], mirror)
        r_plain = pooled_r(n, sa[:, None], sa[None, :], saa[:, None], saa[None, :], plain)
        return r_mirror, r_plain


def sweep(
    model,
    files: Sequence[str | os.PathLike],
    ids: Sequence[str],
    pair_groups: Sequence[int],
    *,
    shift: int = MIRROR_SHIFT,
    batch: int = 8,
    progress=None,
) -> Sweep:
    """Run the model over every photo in ``files`` in the four variants (the module's docstring); the pairs of
    ``PAIR_LAYER`` are summed over the photos whose ``pair_groups`` entry is a group number (-1: left out)."""
    import torch

    from interp.dataset.intake import load_image

    n = len(files)
    groups = np.asarray(pair_groups, dtype=np.int64)
    maxima = {v: {layer: np.zeros((n, LAYERS[layer].channels), np.float32) for layer in SWEEP_LAYERS} for v in VARIANTS}
    sums = {layer: np.zeros((n, 5, LAYERS[layer].channels), np.float64) for layer in MAP_LAYERS}
    units = LAYERS[PAIR_LAYER].channels
    count = int(groups.max()) + 1 if (groups >= 0).any() else 0
    mirror = np.zeros((count, units, units), np.float64)
    plain = np.zeros((count, units, units), np.float64)
    cells = 0
    for start in range(0, n, batch):
        chunk = range(start, min(start + batch, n))
        parts: dict[str, list] = {v: [] for v in VARIANTS}
        for i in chunk:
            app = load_image(files[i]).tensor
            parts["mirror"].append(app.flip(-1))
            parts["bilinear"].append(bilinear_image(files[i]))
            picture, flipped = aligned_pair(files[i], shift)
            parts["aligned"].append(picture)
            parts["aligned_mirror"].append(flipped)
        images = torch.cat([torch.cat(parts[v]) for v in VARIANTS])
        with torch.inference_mode():
            act = {k: v.float().cpu() for k, v in model.run(images, SWEEP_LAYERS).items()}
        size = len(chunk)
        for layer, value in act.items():
            peaks = value.flatten(2).amax(2).numpy()
            for k, v in enumerate(VARIANTS):
                maxima[v][layer][start : start + size] = peaks[k * size : (k + 1) * size]
        a_index, b_index = VARIANTS.index("aligned"), VARIANTS.index("aligned_mirror")
        for layer in MAP_LAYERS:
            a = act[layer][a_index * size : (a_index + 1) * size].double()
            b = act[layer][b_index * size : (b_index + 1) * size].flip(-1).double()
            cells = a.shape[-1] * a.shape[-2]
            a, b = a.flatten(2), b.flatten(2)  # photos x units x cells
            stats = torch.stack([a.sum(2), b.sum(2), (a * a).sum(2), (b * b).sum(2), (a * b).sum(2)], 1)
            sums[layer][start : start + size] = stats.numpy()
            if layer == PAIR_LAYER:
                for row, i in enumerate(chunk):
                    g = groups[i]
                    if g >= 0:
                        mirror[g] += (a[row] @ b[row].T).numpy()
                        plain[g] += (a[row] @ a[row].T).numpy()
        if progress is not None:
            progress(chunk[-1] + 1, n)
    return Sweep(
        tuple(ids),
        maxima,
        {layer: MapSums(sums[layer], cells) for layer in MAP_LAYERS},
        PairSums(mirror, plain),
        groups,
        shift,
    )


def save_sweep(found: Sweep, path: str | os.PathLike) -> None:
    arrays = {
        "format": np.array(SWEEP_FORMAT),
        "photos": np.array(found.photos),
        "shift": np.array(found.shift),
        "pair_groups": found.pair_groups,
        "pairs.mirror": found.pairs.mirror,
        "pairs.plain": found.pairs.plain,
    }
    for variant, layers in found.maxima.items():
        for layer, values in layers.items():
            arrays[f"maxima.{variant}.{layer}"] = values
    for layer, sums in found.maps.items():
        arrays[f"maps.{layer}"] = sums.sums
        arrays[f"cells.{layer}"] = np.array(sums.cells)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)


def load_sweep(path: str | os.PathLike) -> Sweep | None:
    """A sweep saved by :func:`save_sweep`, or None when the file is missing or of another format."""
    try:
        data = np.load(path, allow_pickle=False)
        if int(data["format"]) != SWEEP_FORMAT:
            return None
        maxima = {v: {layer: data[f"maxima.{v}.{layer}"] for layer in SWEEP_LAYERS} for v in VARIANTS}
        maps = {layer: MapSums(data[f"maps.{layer}"], int(data[f"cells.{layer}"])) for layer in MAP_LAYERS}
        return Sweep(
            tuple(str(p) for p in data["photos"]),
            maxima,
            maps,
            PairSums(data["pairs.mirror"], data["pairs.plain"]),
            data["pair_groups"],
            int(data["shift"]),
        )
    except (OSError, KeyError, ValueError):
        return None
