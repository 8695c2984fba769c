"""A sparse autoencoder (SAE) on mixed4e: the layer's activation vectors rewritten as a few active features.

The autoencoder is the TopK kind of Gao et al., "Scaling and evaluating sparse autoencoders" (OpenAI, 2024),
following the paper's reference code (github.com/openai/sparse_autoencoder). For one position's activation
vector ``a`` (the 832 post-ReLU channels of mixed4e at one place of the 14 x 14 grid), scaled to ``x = s a``::

    f     = TopK(ReLU(W_enc^T (x - b_dec) + b_enc))      the k largest pre-activations kept, the rest 0
    x_hat = f W_dec + b_dec                              each feature adds its decoder row (unit length)
    a_hat = x_hat / s

``W_enc`` is d x F, ``W_dec`` F x d with unit-norm rows (a feature's *direction* in activation space), so at
most ``k`` of the F features are active at any position. How it is trained: ``interp.sae.training``.

**The shipped file** (``SAE_FILE``, written by ``tools/train_sae.py``) is a plain dict for
``torch.load(path, weights_only=True)``::

    format          int, FORMAT (1)
    layer           str, "mixed4e"
    k               int, features active per position
    input_scale     float32 scalar tensor s: the autoencoder sees s * activation
    held_out_every  int: photos i with i % held_out_every == 0 (collection order) were held out of training
    W_enc           float16, d x F        b_enc  float32, F
    W_dec           float16, F x d        b_dec  float32, d

**Data.** Every position of the 1,000 photos of the collection, centre-cropped to 224 px as in the atlas,
except photos 0, 10, 20, ... (``held_out_photos``), which training never sees and on which :func:`evaluate`
measures the autoencoder. Training sees its 900 photos in several ``VIEWS`` (also mirrored, whole and zoomed):
with one photo per class the autoencoder otherwise learns those photos better than it learns the layer.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn

from interp.dataset.atlas import IMAGE_SIZE
from interp.dataset.photos import Photo, load_photos
from interp.errors import InterpError
from interp.network.layers import layer_info
from interp.paths import DATA_DIR
from interp.progress import Progress

LAYER = "mixed4e"
SAE_DIR = DATA_DIR / "sae"
SAE_FILE = SAE_DIR / "mixed4e.pt"
LOG_FILE = SAE_DIR / "training_log.json"
FORMAT = 1
HELD_OUT_EVERY = 10  # photo i of the collection is held out of training when i % 10 == 0: 100 photos
FILE_KEYS = ("format", "layer", "k", "input_scale", "held_out_every", "W_enc", "b_enc", "W_dec", "b_dec")


class SAEError(InterpError):
    """The autoencoder or its feature atlas is missing or stale, or was asked for a feature it does not have."""


def topk_relu(pre: torch.Tensor, k: int) -> torch.Tensor:
    """Keep the ``k`` largest entries of the last dimension (clipped at 0), zero the others: TopK(ReLU(pre))."""
    values, indices = pre.topk(k, dim=-1)
    return torch.zeros_like(pre).scatter_(-1, indices, values.clamp_min(0))


class SparseAutoencoder(nn.Module):
    """A TopK sparse autoencoder over one layer's channel vectors (see the module docstring for the maths).

    ``encode``/``decode``/``forward`` take and give activations in the layer's own units (the input scale is
    applied inside); any leading dimensions are kept.
    """

    def __init__(
        self,
        d: int,
        features: int,
        k: int,
        *,
        layer: str = LAYER,
        input_scale: float = 1.0,
        held_out_every: int = HELD_OUT_EVERY,
    ) -> None:
        super().__init__()
        if not 1 <= k <= features:
            raise ValueError(f"k must be between 1 and the number of features ({features}), not {k}")
        self.W_enc = nn.Parameter(torch.zeros(d, features))
        self.b_enc = nn.Parameter(torch.zeros(features))
        self.W_dec = nn.Parameter(torch.zeros(features, d))
        self.b_dec = nn.Parameter(torch.zeros(d))
        self.k = int(k)
        self.layer = layer
        self.input_scale = float(input_scale)
        self.held_out_every = int(held_out_every)  # which photos it never saw: see held_out_photos

    @property
    def d(self) -> int:
        return self.W_enc.shape[0]

    @property
    def features(self) -> int:
        return self.W_enc.shape[1]

    def pre_activations(self, x: torch.Tensor) -> torch.Tensor:
        """``W_enc^T (x - b_dec) + b_enc`` for scaled inputs ``x`` (..., d)."""
        return x @ self.W_enc + self.encoder_bias()

    def encoder_bias(self) -> torch.Tensor:
        """``b_enc - W_enc^T b_dec``: the pre-activations are ``W_enc^T x`` plus this, so the gradient to
        ``b_dec`` costs a vector-matrix product, not a second pass over the batch."""
        return self.b_enc - self.b_dec @ self.W_enc

    def encode(self, acts: torch.Tensor) -> torch.Tensor:
        """Activations (..., d) -> features (..., F), at most ``k`` of them non-zero at each position."""
        return topk_relu(self.pre_activations(acts.float() * self.input_scale), self.k)

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        """Features (..., F) -> the reconstructed activations (..., d), in the layer's units."""
        return (features @ self.W_dec + self.b_dec) / self.input_scale

    def forward(self, acts: torch.Tensor) -> torch.Tensor:
        return self.decode(self.encode(acts))

    def state(self) -> dict:
        """The file format of the module docstring (weights as float16)."""
        return {
            "format": FORMAT,
            "layer": self.layer,
            "k": self.k,
            "input_scale": torch.tensor(self.input_scale, dtype=torch.float32),
            "held_out_every": self.held_out_every,
            "W_enc": self.W_enc.detach().to(torch.float16).contiguous(),
            "b_enc": self.b_enc.detach().float().clone(),
            "W_dec": self.W_dec.detach().to(torch.float16).contiguous(),
            "b_dec": self.b_dec.detach().float().clone(),
        }

    @classmethod
    def from_state(cls, state: dict) -> SparseAutoencoder:
        """The autoencoder a :meth:`state` dict describes (float32, in eval mode, no gradients)."""
        if state.get("format") != FORMAT or set(state) != set(FILE_KEYS):
            raise SAEError(
                f"This is not a format-{FORMAT} autoencoder file (keys {sorted(state)}): rebuild it "
                "with `python tools/train_sae.py`."
            )
        d, features = state["W_enc"].shape
        sae = cls(
            d,
            features,
            int(state["k"]),
            layer=str(state["layer"]),
            input_scale=float(state["input_scale"]),
            held_out_every=int(state["held_out_every"]),
        )
        with torch.no_grad():
            for name in ("W_enc", "b_enc", "W_dec", "b_dec"):
                getattr(sae, name).copy_(state[name].float())
        sae.requires_grad_(False)
        return sae.eval()


@lru_cache(maxsize=2)
def load_sae(path: str | os.PathLike = SAE_FILE) -> SparseAutoencoder:
    """The autoencoder stored at ``path`` (default: the shipped one), read once per process."""
    path = Path(path)
    if not path.is_file():
        raise SAEError(f"The sparse autoencoder ({path}) is missing: train it with `python tools/train_sae.py`.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 (a truncated or foreign file: torch.load raises many kinds)
        raise SAEError(
            f"{path} is not a readable autoencoder file ({error}): rebuild it with `python tools/train_sae.py`."
        ) from None
    if not isinstance(state, dict):
        raise SAEError(f"{path} does not hold an autoencoder: rebuild it with `python tools/train_sae.py`.")
    return SparseAutoencoder.from_state(state)


# -- photos and activations ------------------------------------------------------------------------------------


def held_out_photos(photos: Sequence[Photo] | None = None, every: int = HELD_OUT_EVERY) -> list[Photo]:
    """The photos kept out of training: every ``every``-th photo of the collection, from the first (tench)."""
    photos = load_photos() if photos is None else photos
    return [photo for i, photo in enumerate(photos) if i % every == 0]


def training_photos(photos: Sequence[Photo] | None = None, every: int = HELD_OUT_EVERY) -> list[Photo]:
    """The photos training saw (in its ``VIEWS``): every photo of the collection that :func:`held_out_photos`
    leaves in, in collection order (900 of the 1,000)."""
    photos = load_photos() if photos is None else photos
    return [photo for i, photo in enumerate(photos) if i % every != 0]


def require_photos(photos: Sequence[Photo], images_dir: str | os.PathLike) -> None:
    """An :class:`SAEError` naming what to do when any of ``photos`` is not in ``images_dir``."""
    folder = Path(images_dir)
    missing = [photo.file for photo in photos if not (folder / photo.file).is_file()]
    if missing:
        raise SAEError(
            f"{len(missing)} of the {len(photos)} photos needed are not in {folder} (first: {missing[0]}). "
            "Run `python -m interp prefetch`, or point INTERP_IMAGES_DIR at a folder holding them."
        )


# The ways training sees a photo (augmentation): name -> (side in px, fit, mirrored).
VIEWS: dict[str, tuple[int, str, bool]] = {
    "centre": (IMAGE_SIZE, "crop", False),  # as the atlas, the app and the held-out figures see it: 14 x 14
    "mirror": (IMAGE_SIZE, "crop", True),  # the same, flipped left to right
    "whole": (IMAGE_SIZE, "pad", False),  # the whole photo letterboxed on grey: things smaller
    "zoom": (288, "crop", False),  # a centre crop at 288 px: things larger, 18 x 18 positions
}


def photo_activations(
    model,
    photos: Sequence[Photo],
    images_dir: str | os.PathLike,
    layer: str = LAYER,
    *,
    view: str = "centre",
    batch: int = 16,
    progress: Progress | None = None,
) -> torch.Tensor:
    """photos x positions x channels (float32): ``layer``'s post-ReLU activation vector at every position of
    every photo seen as ``view`` (``VIEWS``; the default is the atlas's centre crop at 224 px); positions in
    row order (``y * width + x``)."""
    from interp.dataset.intake import load_image
    from interp.network.activations import capture

    folder = Path(images_dir)
    require_photos(photos, folder)
    size, fit, mirrored = VIEWS[view]
    name = layer_info(layer).name
    out = None
    for start in range(0, len(photos), batch):
        chunk = photos[start : start + batch]
        images = torch.cat([load_image(folder / photo.file, size=size, fit=fit).tensor for photo in chunk])
        value = capture(model, images.flip(-1) if mirrored else images, [name])[name].flatten(2).transpose(1, 2)
        if out is None:
            out = torch.empty(len(photos), *value.shape[1:])
        out[start : start + len(chunk)] = value
        if progress is not None:
            progress(start + len(chunk), len(photos))
    return out


def encode_image(model, sae: SparseAutoencoder, image_tensor: torch.Tensor) -> torch.Tensor:
    """The feature map of one picture (1 x 3 x H x W or 3 x H x W, RGB in [0, 1]): F x h x w, the features of
    the activation vector at each position of the SAE's layer (post-ReLU, as in the atlas). One forward pass."""
    from interp.network.activations import capture

    images = image_tensor if image_tensor.dim() == 4 else image_tensor[None]
    if images.shape[0] != 1:
        raise ValueError(f"encode_image takes one picture, not a batch of {images.shape[0]}")
    acts = capture(model, images, [sae.layer])[sae.layer][0]  # C x h x w
    with torch.inference_mode():
        return sae.encode(acts.permute(1, 2, 0)).permute(2, 0, 1).contiguous()


def reconstruction_stats(sae: SparseAutoencoder, acts: torch.Tensor, chunk: int = 8192) -> dict:
    """How well ``sae`` rewrites ``acts`` (n x d, the layer's units), over all n positions:

    * ``explained_variance``: 1 - sum |a - a_hat|^2 / sum |a - mean(a)|^2 (the mean over these positions);
    * ``l0``: mean number of active (non-zero) features per position;
    * ``dead``: features active at none of the positions; ``positions``: n.

    One pass in chunks (sums in float64), so ``acts`` can be far larger than a float64 copy of it would fit.
    """
    acts = acts.reshape(-1, sae.d)
    error = squares = active = 0.0
    sums = torch.zeros(sae.d, dtype=torch.float64)
    fired = torch.zeros(sae.features, dtype=torch.bool)
    with torch.inference_mode():
        for start in range(0, len(acts), chunk):
            a = acts[start : start + chunk].float()
            f = sae.encode(a)
            error += float((sae.decode(f) - a).double().pow(2).sum())
            sums += a.double().sum(dim=0)
            squares += float(a.double().pow(2).sum())
            nonzero = f > 0
            active += float(nonzero.sum())
            fired |= nonzero.any(dim=0)
    total = squares - float(sums.pow(2).sum()) / len(acts)  # sum |a - mean|^2 = sum |a|^2 - n |mean|^2
    return {
        "explained_variance": 1.0 - error / total,
        "l0": active / len(acts),
        "dead": int((~fired).sum()),
        "positions": len(acts),
    }


def evaluate(model, sae: SparseAutoencoder, photos_dir: str | os.PathLike) -> dict:
    """The autoencoder's figures on the held-out photos (read from ``photos_dir``), computed live: one forward
    pass per photo to the SAE's layer, every position of the 14 x 14 grid counted.

    Returns ``layer``, ``features``, ``k``, ``explained_variance`` (1 - fraction of variance unexplained, over
    all held-out positions), ``l0`` (mean active features per position), ``l0_fixed_by_k`` (:func:`l0_fixed_by_k`:
    the L0 measured is the setting k, not a finding), ``dead`` (features active at no held-out position),
    ``positions`` and ``held_out_photos`` (photo ids).
    """
    photos = held_out_photos(every=sae.held_out_every)
    acts = photo_activations(model, photos, photos_dir, sae.layer)
    stats = reconstruction_stats(sae, acts)
    return {
        "layer": sae.layer,
        "features": sae.features,
        "k": sae.k,
        **stats,
        "l0_fixed_by_k": l0_fixed_by_k(stats["l0"], sae.k),
        "held_out_photos": [photo.id for photo in photos],
    }


def l0_fixed_by_k(l0: float, k: int) -> bool:
    """Whether a measured L0 (mean active features per position) is simply the autoencoder's ``k``: TopK keeps the
    k largest pre-activations at every position, so L0 is at most k by construction, and exactly k wherever all
    k kept are positive. When True, L0 is a setting of the autoencoder, not something training found."""
    return abs(float(l0) - int(k)) < 1e-9
