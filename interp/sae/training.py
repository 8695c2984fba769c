"""Training the sparse autoencoder of ``interp.sae.autoencoder``, and writing its feature atlas.

Training minimises the squared error normalised by the data's variance (``1 - explained variance`` on the
batch), plus the paper's auxiliary loss ("AuxK"): the ``auxk`` dead features (silent for the last
``dead_after`` positions) with the largest pre-activations reconstruct what the live ones missed, at 1/32 of
the weight, so dead features get a gradient back to life. Decoder rows are kept at unit norm, their gradient
parallel to themselves projected out, the encoder starts as the decoder's transpose and ``b_dec`` at the data's
geometric median, as in Gao et al. (2024). A step's forward and backward passes touch only the chosen features
(:class:`Selected`, :class:`Decoded`: sparse products where the dense formula would multiply by every feature).

``tools/train_sae.py`` runs it on the photos and writes the shipped files.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import torch

from interp.dataset.atlas import write_atlas
from interp.sae.autoencoder import LAYER, SparseAutoencoder
from interp.sae.features import ATLAS_NAME, EXAMPLES_FILE

AUXK_COEF = 1 / 32  # the paper's weight of the auxiliary loss


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


class Selected(torch.autograd.Function):
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


class Decoded(torch.autograd.Function):
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
    data: torch.Tensor,
    settings: TrainingSettings,
    *,
    layer: str = LAYER,
    validate: Callable[[SparseAutoencoder], dict] | None = None,
    progress: Callable[[dict], None] | None = None,
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
        rows = data[start : start + 65536].double()
        sums += rows.sum(dim=0)
        squares += float(rows.pow(2).sum())
    input_scale = math.sqrt(d * n / squares)  # mean |x|^2 = d after scaling
    variance = (squares - float(sums.pow(2).sum()) / n) / n * input_scale**2  # mean |x - mean|^2, scaled
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
            x = data[order[b * s.batch : (b + 1) * s.batch]].float() * input_scale
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
            values = Selected.apply(x, sae.W_enc, bias, pre, indices).clamp_min(0)
            x_hat = Decoded.apply(chosen.indices, values[:, : s.k], sae.W_dec, s.bf16) + sae.b_dec
            loss = (x_hat - x).pow(2).sum(dim=1).mean() / variance
            aux = torch.zeros(())
            if aux_k:
                residual = (x - x_hat).detach()
                residual_hat = Decoded.apply(indices[:, s.k :], values[:, s.k :], sae.W_dec, s.bf16)
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
        record = {
            "epoch": epoch + 1,
            "loss": float(np.mean(losses)),
            "aux_loss": float(np.mean(aux_losses)),
            "dead": int((since_fired > s.dead_after).sum()),
            "seconds": round(time.perf_counter() - started, 2),
        }
        if validate is not None:
            with torch.no_grad():
                record.update(validate(sae))
        history.append(record)
        if progress is not None:
            progress(record)
    sae.requires_grad_(False)
    return sae.eval(), history


def build_feature_atlas(
    sae: SparseAutoencoder,
    acts: torch.Tensor,
    photo_ids: Sequence[str],
    out: str | os.PathLike = EXAMPLES_FILE,
    meta: dict | None = None,
    chunk: int = 16,
) -> dict:
    """Write the feature atlas for ``acts`` (photos x positions x d, positions in row order of a square grid,
    one row per id of ``photo_ids``) to ``out``: each feature's maximum over the grid per photo and, for its
    top photos, where. Returns the metadata written."""
    n, positions, _ = acts.shape
    maxima = np.zeros((sae.features, n), np.float32)
    peaks = np.zeros((sae.features, n), np.int32)
    with torch.inference_mode():
        for start in range(0, n, chunk):
            best, where = sae.encode(acts[start : start + chunk]).max(dim=1)  # photos x F
            maxima[:, start : start + len(best)] = best.T.numpy()
            peaks[:, start : start + len(best)] = where.T.numpy()
    meta = {
        "what": "maximum over positions of each feature of the sparse autoencoder, per photo; peak positions "
        "for the top photos",
        "sae_layer": sae.layer,
        "features": sae.features,
        "k": sae.k,
        "grid": math.isqrt(positions),
        **(meta or {}),
    }
    return write_atlas(out, photo_ids, {ATLAS_NAME: maxima}, {ATLAS_NAME: peaks}, meta)
