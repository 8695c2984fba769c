"""A sparse autoencoder (SAE) on mixed4e: the layer's activation vectors rewritten as a few active features.

The autoencoder is the TopK kind of Gao et al., "Scaling and evaluating sparse autoencoders" (OpenAI, 2024),
following the paper's reference code (github.com/openai/sparse_autoencoder). For one position's activation
vector ``a`` (the 832 post-ReLU channels of mixed4e at one place of the 14 x 14 grid), scaled to ``x = s a``::

    f     = TopK(ReLU(W_enc^T (x - b_dec) + b_enc))      the k largest pre-activations kept, the rest 0
    x_hat = f W_dec + b_dec                              each feature adds its decoder row (unit length)
    a_hat = x_hat / s

``W_enc`` is d x F, ``W_dec`` F x d with unit-norm rows (a feature's *direction* in activation space), so at
most ``k`` of the F features are active at any position. Training minimises the squared error normalised by
the data's variance (``1 - explained variance`` on the batch), plus the paper's auxiliary loss ("AuxK"): the
``auxk`` dead features (silent for the last ``dead_after`` positions) with the largest pre-activations
reconstruct what the live ones missed, at 1/32 of the weight, so dead features get a gradient back to life.
Decoder rows are kept at unit norm, their gradient parallel to themselves projected out, the encoder starts as
the decoder's transpose and ``b_dec`` at the data's geometric median, as in the paper.

**The shipped file** (``SAE_FILE``, written by ``tools/train_sae.py``) is a plain dict for
``torch.load(path, weights_only=True)``::

    format          int, FORMAT (1)
    layer           str, "mixed4e"
    k               int, features active per position
    input_scale     float32 scalar tensor s: the autoencoder sees s * activation
    held_out_every  int: photos i with i % held_out_every == 0 (collection order) were held out of training
    W_enc           float16, d x F        b_enc  float32, F
    W_dec           float16, F x d        b_dec  float32, d

**The feature atlas** (``EXAMPLES_FILE``) is the dataset-examples atlas of ``interp.dataset.atlas`` for the features:
written by :func:`interp.dataset.atlas.write_atlas` under the name ``features`` (``features.act``, ``.scale``,
``.top``, ``.peak``, ``.top_value``: each feature's maximum over the grid on each of the 1,000 photos, 8 bits,
and its top ``TOP`` photos in order with exact value and peak position), its ``meta`` naming the SAE file's
SHA-256 (``sae_sha256``), so a test can tell an atlas left over from another autoencoder.

**Data.** Every position of the 1,000 photos of the collection, centre-cropped to 224 px as in the atlas,
except photos 0, 10, 20, ... (``held_out_photos``), which training never sees and on which :func:`evaluate`
measures the autoencoder. Training sees its 900 photos in several ``VIEWS`` (also mirrored, whole and zoomed):
with one photo per class the autoencoder otherwise learns those photos better than it learns the layer.

No Streamlit here; the chapter-6 page draws what these functions return.
"""

from __future__ import annotations

import json
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from interp.dataset.atlas import FORMAT as ATLAS_FORMAT
from interp.dataset.atlas import IMAGE_SIZE, TOP, Example, load_atlas, write_atlas
from interp.dataset.photos import Photo, load_photos
from interp.errors import InterpError
from interp.network.layers import layer_info
from interp.paths import DATA_DIR
from interp.progress import Progress
from interp.story.purity import TOP as PURITY_TOP
from interp.story.purity import Purity, measure

LAYER = "mixed4e"
SAE_DIR = DATA_DIR / "sae"
SAE_FILE = SAE_DIR / "mixed4e.pt"
EXAMPLES_FILE = SAE_DIR / "mixed4e_examples.npz"
LOG_FILE = SAE_DIR / "training_log.json"
FORMAT = 1
HELD_OUT_EVERY = 10  # photo i of the collection is held out of training when i % 10 == 0: 100 photos
FILE_KEYS = ("format", "layer", "k", "input_scale", "held_out_every", "W_enc", "b_enc", "W_dec", "b_dec")
ATLAS_NAME = "features"  # the name the feature atlas's arrays are stored under
AUXK_COEF = 1 / 32  # the paper's weight of the auxiliary loss


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

    def __init__(self, d: int, features: int, k: int, *, layer: str = LAYER, input_scale: float = 1.0,
                 held_out_every: int = HELD_OUT_EVERY) -> None:
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
            "format": FORMAT, "layer": self.layer, "k": self.k,
            "input_scale": torch.tensor(self.input_scale, dtype=torch.float32), "held_out_every": self.held_out_every,
            "W_enc": self.W_enc.detach().to(torch.float16).contiguous(), "b_enc": self.b_enc.detach().float().clone(),
            "W_dec": self.W_dec.detach().to(torch.float16).contiguous(), "b_dec": self.b_dec.detach().float().clone(),
        }

    @classmethod
    def from_state(cls, state: dict) -> SparseAutoencoder:
        """The autoencoder a :meth:`state` dict describes (float32, in eval mode, no gradients)."""
        if state.get("format") != FORMAT or set(state) != set(FILE_KEYS):
            raise SAEError(f"This is not a format-{FORMAT} autoencoder file (keys {sorted(state)}): rebuild it "
                           "with `python tools/train_sae.py`.")
        d, features = state["W_enc"].shape
        sae = cls(d, features, int(state["k"]), layer=str(state["layer"]), input_scale=float(state["input_scale"]),
                  held_out_every=int(state["held_out_every"]))
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
    except Exception as error:  # a truncated or foreign file
        raise SAEError(f"{path} is not a readable autoencoder file ({error}): rebuild it with "
                       "`python tools/train_sae.py`.") from None
    if not isinstance(state, dict):
        raise SAEError(f"{path} does not hold an autoencoder: rebuild it with `python tools/train_sae.py`.")
    return SparseAutoencoder.from_state(state)


# -- photos and activations ------------------------------------------------------------------------------------


def held_out_photos(photos: Sequence[Photo] | None = None, every: int = HELD_OUT_EVERY) -> list[Photo]:
    """The photos kept out of training: every ``every``-th photo of the collection, from the first (tench)."""
    photos = load_photos() if photos is None else photos
    return [photo for i, photo in enumerate(photos) if i % every == 0]


def require_photos(photos: Sequence[Photo], images_dir: str | os.PathLike) -> None:
    """An :class:`SAEError` naming what to do when any of ``photos`` is not in ``images_dir``."""
    folder = Path(images_dir)
    missing = [photo.file for photo in photos if not (folder / photo.file).is_file()]
    if missing:
        raise SAEError(f"{len(missing)} of the {len(photos)} photos needed are not in {folder} (first: {missing[0]}). "
                       "Run `python -m interp prefetch`, or point INTERP_IMAGES_DIR at a folder holding them.")


# The ways training sees a photo (augmentation): name -> (side in px, fit, mirrored).
VIEWS: dict[str, tuple[int, str, bool]] = {
    "centre": (IMAGE_SIZE, "crop", False),  # as the atlas, the app and the held-out figures see it: 14 x 14
    "mirror": (IMAGE_SIZE, "crop", True),  # the same, flipped left to right
    "whole": (IMAGE_SIZE, "pad", False),  # the whole photo letterboxed on grey: things smaller
    "zoom": (288, "crop", False),  # a centre crop at 288 px: things larger, 18 x 18 positions
}


def photo_activations(
    model, photos: Sequence[Photo], images_dir: str | os.PathLike, layer: str = LAYER, *, view: str = "centre",
    batch: int = 16, progress: Progress | None = None,
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
        chunk = photos[start: start + batch]
        images = torch.cat([load_image(folder / photo.file, size=size, fit=fit).tensor for photo in chunk])
        value = capture(model, images.flip(-1) if mirrored else images, [name])[name].flatten(2).transpose(1, 2)
        if out is None:
            out = torch.empty(len(photos), *value.shape[1:])
        out[start: start + len(chunk)] = value
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
            a = acts[start: start + chunk].float()
            f = sae.encode(a)
            error += float((sae.decode(f) - a).double().pow(2).sum())
            sums += a.double().sum(dim=0)
            squares += float(a.double().pow(2).sum())
            nonzero = f > 0
            active += float(nonzero.sum())
            fired |= nonzero.any(dim=0)
    total = squares - float(sums.pow(2).sum()) / len(acts)  # sum |a - mean|^2 = sum |a|^2 - n |mean|^2
    return {"explained_variance": 1.0 - error / total, "l0": active / len(acts),
            "dead": int((~fired).sum()), "positions": len(acts)}


def evaluate(model, sae: SparseAutoencoder, photos_dir: str | os.PathLike) -> dict:
    """The autoencoder's figures on the held-out photos (read from ``photos_dir``), computed live: one forward
    pass per photo to the SAE's layer, every position of the 14 x 14 grid counted.

    Returns ``layer``, ``features``, ``k``, ``explained_variance`` (1 - fraction of variance unexplained, over
    all held-out positions), ``l0`` (mean active features per position), ``dead`` (features active at no
    held-out position), ``positions`` and ``held_out_photos`` (photo ids).
    """
    photos = held_out_photos(every=sae.held_out_every)
    acts = photo_activations(model, photos, photos_dir, sae.layer)
    stats = reconstruction_stats(sae, acts)
    return {"layer": sae.layer, "features": sae.features, "k": sae.k, **stats,
            "held_out_photos": [photo.id for photo in photos]}


# -- training --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingSettings:
    """Everything that decides a training run (with the data and the thread count: runs are reproducible)."""

    features: int
    k: int
    epochs: int = 5
    batch: int = 1024
    lr: float = 1e-3
    auxk: int = 256  # dead features asked to explain the residual
    dead_after: int = 50_000  # positions without firing after which a feature counts as dead
    decay_from: float = 0.8  # the learning rate falls linearly to 0 over the last 20% of the steps
    seed: int = 0
    bf16: bool = True  # dense products in bfloat16 (weights, sums stay float32): steps 1.6x faster on AVX-512

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _columns(indices: torch.Tensor, values: torch.Tensor, features: int) -> torch.Tensor:
    """The sparse features x batch matrix holding ``values[b, j]`` at ``(indices[b, j], b)`` (repeated
    positions add up)."""
    batch, k = indices.shape
    where = torch.stack([indices.reshape(-1), torch.arange(batch).repeat_interleave(k)])
    return torch.sparse_coo_tensor(where, values.reshape(-1), (features, batch), check_invariants=False)


class _Selected(torch.autograd.Function):
    """The pre-activations picked by ``indices`` (batch x j) from ``pre = x W_enc + bias``, computed once
    without gradients; the backward pass touches only those entries (a sparse product instead of a dense one)."""

    @staticmethod
    def forward(ctx, x, W_enc, bias, pre, indices):
        ctx.save_for_backward(x, indices)
        ctx.features = W_enc.shape[1]
        return pre.gather(1, indices)

    @staticmethod
    def backward(ctx, grad):
        x, indices = ctx.saved_tensors
        grad_W_enc = torch.sparse.mm(_columns(indices, grad, ctx.features), x).T
        grad_bias = torch.zeros(ctx.features).index_add_(0, indices.reshape(-1), grad.reshape(-1))
        return None, grad_W_enc, grad_bias, None, None


class _Decoded(torch.autograd.Function):
    """``sum_j values[b, j] * W_dec[indices[b, j]]`` for each row b, forward and backward without the dense
    batch x F feature matrix (``bf16``: the one dense product of the backward pass in bfloat16)."""

    @staticmethod
    def forward(ctx, indices, values, W_dec, bf16):
        ctx.save_for_backward(indices, values, W_dec)
        ctx.bf16 = bf16
        return torch.nn.functional.embedding_bag(indices, W_dec, per_sample_weights=values, mode="sum")

    @staticmethod
    def backward(ctx, grad):
        indices, values, W_dec = ctx.saved_tensors
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=ctx.bf16):
            grad_all = grad @ W_dec.T
        grad_values = grad_all.float().gather(1, indices)
        grad_W_dec = torch.sparse.mm(_columns(indices, values, W_dec.shape[0]), grad)
        return None, grad_values, grad_W_dec, None


def geometric_median(points: torch.Tensor, iterations: int = 50) -> torch.Tensor:
    """The point minimising the summed distance to ``points`` (n x d), by Weiszfeld's iterations."""
    points = points.double()
    median = points.mean(dim=0)
    for _ in range(iterations):
        weights = 1.0 / (points - median).norm(dim=1).clamp_min(1e-8)
        median = (weights[:, None] * points).sum(dim=0) / weights.sum()
    return median.float()


def train(
    data: torch.Tensor, settings: TrainingSettings, *, layer: str = LAYER,
    validate: Callable[[SparseAutoencoder], dict] | None = None, progress: Callable[[dict], None] | None = None,
) -> tuple[SparseAutoencoder, list[dict]]:
    """Train a TopK autoencoder on ``data`` (n x d, the layer's units, float32 or float16), deterministically
    for a given seed and thread count. Returns the autoencoder (eval mode) and one record per epoch: mean loss
    (the batches' fraction of variance unexplained), mean auxiliary loss, features dead at the epoch's end,
    seconds, and whatever ``validate(sae)`` returns after that epoch. ``progress(record)`` follows each epoch."""
    s = settings
    generator = torch.Generator().manual_seed(s.seed)
    data = data.reshape(len(data), -1)  # float16 or float32; each batch is scaled to float32 as it is used
    n, d = data.shape
    sums, squares = torch.zeros(d, dtype=torch.float64), 0.0
    for start in range(0, n, 65536):  # in chunks: a float64 copy of all the data would not fit
        rows = data[start: start + 65536].double()
        sums += rows.sum(dim=0)
        squares += float(rows.pow(2).sum())
    input_scale = math.sqrt(d * n / squares)  # mean |x|^2 = d after scaling
    variance = (squares - float(sums.pow(2).sum()) / n) / n * input_scale ** 2  # mean |x - mean|^2, scaled
    sae = SparseAutoencoder(d, s.features, s.k, layer=layer, input_scale=input_scale)
    with torch.no_grad():
        directions = torch.randn(s.features, d, generator=generator)
        sae.W_dec.copy_(directions / directions.norm(dim=1, keepdim=True))
        sae.W_enc.copy_(sae.W_dec.T)
        sample = torch.randperm(n, generator=generator)[:20_000]
        sae.b_dec.copy_(geometric_median(data[sample].float() * input_scale))
    optimiser = torch.optim.Adam(sae.parameters(), lr=s.lr)
    steps_per_epoch = n // s.batch
    total_steps = steps_per_epoch * s.epochs
    since_fired = torch.zeros(s.features, dtype=torch.long)
    history: list[dict] = []
    step = 0
    for epoch in range(s.epochs):
        started = time.perf_counter()
        order = torch.randperm(n, generator=generator)
        losses, aux_losses = [], []
        for b in range(steps_per_epoch):
            x = data[order[b * s.batch: (b + 1) * s.batch]].float() * input_scale
            bias = sae.encoder_bias()
            with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=s.bf16):
                pre = (x @ sae.W_enc + bias).float()
            chosen = pre.topk(s.k, dim=-1)
            with torch.no_grad():
                fired = torch.zeros(s.features, dtype=torch.bool)
                fired[chosen.indices[chosen.values > 0]] = True
                since_fired += len(x)
                since_fired[fired] = 0
                dead = since_fired > s.dead_after
            aux_k = min(s.auxk, int(dead.sum()))
            indices = chosen.indices
            if aux_k:  # AuxK: the dead features with the largest pre-activations model what the live ones missed
                indices = torch.cat([indices, pre.masked_fill(~dead, float("-inf")).topk(aux_k, dim=-1).indices], 1)
            values = _Selected.apply(x, sae.W_enc, bias, pre, indices).clamp_min(0)
            x_hat = _Decoded.apply(chosen.indices, values[:, : s.k], sae.W_dec, s.bf16) + sae.b_dec
            loss = (x_hat - x).pow(2).sum(dim=1).mean() / variance
            aux = torch.zeros(())
            if aux_k:
                residual = (x - x_hat).detach()
                residual_hat = _Decoded.apply(indices[:, s.k:], values[:, s.k:], sae.W_dec, s.bf16)
                scale = (residual - residual.mean(dim=0)).pow(2).sum(dim=1).mean().clamp_min(1e-12)
                aux = (residual_hat - residual).pow(2).sum(dim=1).mean() / scale
            optimiser.zero_grad(set_to_none=True)
            (loss + AUXK_COEF * aux).backward()
            with torch.no_grad():  # keep the decoder rows on the unit sphere
                grad = sae.W_dec.grad
                grad -= (grad * sae.W_dec).sum(dim=1, keepdim=True) * sae.W_dec
            fraction = step / total_steps
            rate = s.lr if fraction < s.decay_from else s.lr * (1 - fraction) / (1 - s.decay_from)
            for group in optimiser.param_groups:
                group["lr"] = rate
            optimiser.step()
            with torch.no_grad():
                sae.W_dec /= sae.W_dec.norm(dim=1, keepdim=True)
            losses.append(float(loss.detach()))
            aux_losses.append(float(aux.detach()))
            step += 1
        record = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "aux_loss": float(np.mean(aux_losses)),
                  "dead": int((since_fired > s.dead_after).sum()), "seconds": round(time.perf_counter() - started, 2)}
        if validate is not None:
            with torch.no_grad():
                record.update(validate(sae))
        history.append(record)
        if progress is not None:
            progress(record)
    sae.requires_grad_(False)
    return sae.eval(), history


# -- the feature atlas -----------------------------------------------------------------------------------------


def build_feature_atlas(
    sae: SparseAutoencoder, acts: torch.Tensor, photo_ids: Sequence[str], out: str | os.PathLike = EXAMPLES_FILE,
    meta: dict | None = None, chunk: int = 16,
) -> dict:
    """Write the feature atlas for ``acts`` (photos x positions x d, positions in row order of a square grid,
    one row per id of ``photo_ids``) to ``out``: each feature's maximum over the grid per photo and, for its
    top photos, where. Returns the metadata written."""
    n, positions, _ = acts.shape
    maxima = np.zeros((sae.features, n), np.float32)
    peaks = np.zeros((sae.features, n), np.int32)
    with torch.inference_mode():
        for start in range(0, n, chunk):
            best, where = sae.encode(acts[start: start + chunk]).max(dim=1)  # photos x F
            maxima[:, start: start + len(best)] = best.T.numpy()
            peaks[:, start: start + len(best)] = where.T.numpy()
    meta = {"what": "maximum over positions of each feature of the sparse autoencoder, per photo; peak positions "
                    "for the top photos", "sae_layer": sae.layer, "features": sae.features, "k": sae.k,
            "grid": math.isqrt(positions), **(meta or {})}
    return write_atlas(out, photo_ids, {ATLAS_NAME: maxima}, {ATLAS_NAME: peaks}, meta)


class FeatureAtlas:
    """The feature atlas file (NumPy only): every feature's strongest photos of the 1,000, with peak positions."""

    def __init__(self, path: str | os.PathLike = EXAMPLES_FILE) -> None:
        self.path = Path(path)
        try:
            with np.load(self.path, allow_pickle=False) as file:
                self.meta = json.loads(str(file["meta"]))
                ids = [str(name) for name in file["photos"]]
                self.act, self.scale, self.top, self.peak, self.top_value = (
                    file[f"{ATLAS_NAME}.{part}"] for part in ("act", "scale", "top", "peak", "top_value"))
        except (OSError, ValueError, KeyError) as error:
            raise SAEError(f"The feature atlas ({self.path}) cannot be read: {error}. Rebuild it with "
                           "`python tools/train_sae.py`.") from None
        if self.meta.get("format") != ATLAS_FORMAT:
            raise SAEError(f"{self.path} is in format {self.meta.get('format')}, this code reads {ATLAS_FORMAT}: "
                           "rebuild it with `python tools/train_sae.py`.")
        by_id = {photo.id: photo for photo in load_photos()}
        if any(i not in by_id for i in ids):
            raise SAEError(f"{self.path} names photos the collection does not have: rebuild it with "
                           "`python tools/train_sae.py`.")
        self.photos: tuple[Photo, ...] = tuple(by_id[i] for i in ids)
        self.features = int(self.meta["features"])
        self.grid = int(self.meta["grid"])

    def check(self, feature: int) -> int:
        """``feature`` as an int, or an :class:`SAEError` when the autoencoder has no such feature."""
        if not isinstance(feature, (int, np.integer)) or not 0 <= feature < self.features:
            raise SAEError(f"The autoencoder has features 0 to {self.features - 1}; there is no feature {feature}.")
        return int(feature)

    def activations(self, feature: int) -> np.ndarray:
        """One feature's maximum activation over the grid on every photo (float32, in photo order)."""
        feature = self.check(feature)
        return self.act[feature].astype(np.float32) * (self.scale[feature] / 255.0)

    def rankings(self, top: int = TOP) -> np.ndarray:
        """features x ``top`` photo indices (into ``photos``), each feature's strongest photos first."""
        if not 1 <= top <= TOP:
            raise SAEError(f"The feature atlas keeps each feature's top {TOP} photos in order; not {top}.")
        return self.top[:, :top].astype(np.int64)

    def firing(self, minimum: int = 1) -> np.ndarray:
        """Boolean per feature: active (maximum > 0) on at least ``minimum`` (<= TOP) photos."""
        if not 1 <= minimum <= TOP:
            raise SAEError(f"Ask for between 1 and {TOP} photos, not {minimum}.")
        return self.top_value[:, minimum - 1].astype(np.float32) > 0

    def examples(self, feature: int, top: int = 10) -> list[Example]:
        """The ``top`` photos that excite ``feature`` most, strongest first (as ``interp.dataset.atlas.Example``; ``y, x``
        on the layer's grid for the first ``TOP``, ``None`` beyond, where the order comes from 8-bit values)."""
        feature = self.check(feature)
        if not 1 <= top <= len(self.photos):
            raise SAEError(f"Ask for between 1 and {len(self.photos)} examples, not {top}.")
        values = self.activations(feature)
        kept = self.top[feature].astype(np.int64)
        order = list(kept)
        if top > len(order):
            rest = np.setdiff1d(np.arange(len(self.photos)), kept, assume_unique=True)
            order += list(rest[np.argsort(-values[rest], kind="stable")])
        examples = []
        for rank, index in enumerate(order[:top]):
            value, y, x = float(values[index]), None, None
            if rank < len(kept):
                y, x = divmod(int(self.peak[feature, rank]), self.grid)
                value = float(self.top_value[feature, rank])
            examples.append(Example(self.photos[index], rank + 1, value, y, x))
        return examples


@lru_cache(maxsize=2)
def load_feature_atlas(path: str | os.PathLike = EXAMPLES_FILE) -> FeatureAtlas:
    """The shipped feature atlas, read once per process."""
    if not Path(path).is_file():
        raise SAEError(f"The feature atlas ({path}) is missing: build it with `python tools/train_sae.py`.")
    return FeatureAtlas(path)


def feature_examples(feature: int, top: int = 10) -> list[Example]:
    """The photos of the collection that excite ``feature`` of the shipped autoencoder most."""
    return load_feature_atlas().examples(feature, top)


def feature_rankings(top: int = PURITY_TOP) -> np.ndarray:
    """features x ``top`` photo indices of the collection, each feature's strongest first (for
    ``interp.story.purity.measure``)."""
    return load_feature_atlas().rankings(top)


# -- features and neurons --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loading:
    """How much a feature's decoder direction (unit length) leans on one neuron: its component there, which is
    the cosine between the direction and the neuron's axis. Positive: the feature raises that neuron."""

    feature: int
    channel: int
    weight: float

    def as_dict(self) -> dict:
        return {"feature": self.feature, "channel": self.channel, "weight": round(self.weight, 4)}


def features_of_neuron(channel: int, top: int = 5) -> list[Loading]:
    """The shipped autoencoder's features whose decoder direction leans most (positively) on ``channel``,
    largest first; features that fire on none of the 1,000 photos are left out (their direction means nothing)."""
    sae = load_sae()
    if not 0 <= channel < sae.d:
        raise SAEError(f"{sae.layer} has channels 0 to {sae.d - 1}; there is no channel {channel}.")
    column = sae.W_dec[:, channel].numpy().copy()
    column[~load_feature_atlas().firing()] = -np.inf
    order = np.argsort(-column, kind="stable")[: max(1, top)]
    return [Loading(int(f), channel, float(column[f])) for f in order if np.isfinite(column[f])]


def neurons_of_feature(feature: int, top: int = 5) -> list[Loading]:
    """The neurons a feature of the shipped autoencoder draws on: its decoder direction's largest components by
    size, signed."""
    sae = load_sae()
    if not isinstance(feature, (int, np.integer)) or not 0 <= feature < sae.features:
        raise SAEError(f"The autoencoder has features 0 to {sae.features - 1}; there is no feature {feature}.")
    row = sae.W_dec[int(feature)].numpy()
    order = np.argsort(-np.abs(row), kind="stable")[: max(1, top)]
    return [Loading(int(feature), int(c), float(row[c])) for c in order]


# -- purity ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PurityComparison:
    """The neurons of the layer against the autoencoder's features on the one purity measure
    (``interp.story.purity``), each over its top ``top`` photos of the 1,000. Only units and features active on at
    least ``top`` photos are measured: past that, a ranking would be filled with photos that do not fire them."""

    layer: str
    top: int
    neurons: Purity
    features: Purity
    neurons_total: int
    features_total: int

    def as_dict(self) -> dict:
        def side(p: Purity, total: int) -> dict:
            return {"measured": len(p.purity), "of": total, "mean_purity": round(p.mean_purity, 4),
                    "polysemantic_share": round(p.polysemantic_share, 4)}

        return {"layer": self.layer, "top": self.top, "neurons": side(self.neurons, self.neurons_total),
                "features": side(self.features, self.features_total)}


def purity_comparison(top: int = PURITY_TOP) -> PurityComparison:
    """Mean purity and polysemantic share of the layer's neurons (from the atlas) against the autoencoder's
    features (from the feature atlas), measured the same way whatever the result."""
    features = load_feature_atlas()
    atlas = load_atlas()
    layer = str(features.meta["sae_layer"])
    neuron_values = atlas.layer_activations(layer)  # photos x units
    neurons_firing = (neuron_values > 0).sum(axis=0) >= top  # 8-bit maxima: under 0.2% of the largest is 0
    neuron_ranks = atlas.rankings(layer, top)[neurons_firing]
    feature_ranks = features.rankings(top)[features.firing(top)]
    return PurityComparison(
        layer, top,
        measure(neuron_ranks, [p.synset for p in atlas.photos], top),
        measure(feature_ranks, [p.synset for p in features.photos], top),
        neuron_values.shape[1], features.features,
    )
