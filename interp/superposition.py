"""The toy model of "Toy Models of Superposition" (Elhage et al., Anthropic, 2022), small enough to train live.

``n`` features are squeezed into ``m < n`` hidden dimensions and read back through a ReLU::

    h = W x            (W: m x n; column i is feature i's direction)
    x' = ReLU(W^T h + b)
    loss = mean over samples of sum_i importance_i * (x_i - x'_i)^2

Each feature is 0 with probability ``sparsity`` and otherwise uniform in [0, 1], independently. Dense features
are stored like PCA would: only the ``m`` most important get a direction, orthogonal to each other. Sparse
features rarely occur together, so the model can afford to give every feature a direction, overlapping, and let
the ReLU filter out the small interference: 5 features in 2 dimensions form a regular pentagon.

Several models (one per sparsity, say) train at once as one batched tensor, so a sweep costs one training run.
Training runs on one CPU thread (the tensors are tiny: with two, the threads' hand-offs cost more than the work,
and far more when other processes share the cores) and with Adam written out here (``torch.optim`` imports
``torch._dynamo`` on its first step, seconds on a small CPU). No Streamlit here; the page draws the result.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

from interp.toy import TOY_FEATURES, TOY_HIDDEN


@dataclass(frozen=True)
class ToyModels:
    """Trained toy models, one per setting: ``W`` is k x m x n, ``b`` is k x n, ``loss`` the final loss of each."""

    W: np.ndarray
    b: np.ndarray
    sparsity: tuple[float, ...]
    importance: np.ndarray  # n
    loss: np.ndarray  # k
    steps: int

    def norms(self) -> np.ndarray:
        """k x n: the length of each feature's direction (about 1: represented; about 0: dropped)."""
        return np.linalg.norm(self.W, axis=1)

    def represented(self, threshold: float = 0.5) -> np.ndarray:
        """k x n booleans: which features have a direction of length above ``threshold``."""
        return self.norms() > threshold

    def changes(self, threshold: float = 0.5) -> list[int]:
        """The models, in their order (a sweep: sparsity rising), at which the number of represented features
        differs from the model before: the first model, then each step of the phase change."""
        counts = self.represented(threshold).sum(axis=1)
        return [k for k in range(len(counts)) if k == 0 or counts[k] != counts[k - 1]]

    def interference(self) -> np.ndarray:
        """k x n: how much of every other feature leaks into feature i's read-out, sum_j != i (W_i . W_j)^2 / |W_i|^2
        (0 when every represented feature has a direction of its own)."""
        gram = np.einsum("kmi,kmj->kij", self.W, self.W)
        norms2 = np.einsum("kii->ki", gram)
        off = (gram**2).sum(axis=2) - norms2**2
        return off / np.maximum(norms2, 1e-9)

    def dimensionality(self) -> np.ndarray:
        """k x n: the paper's feature dimensionality, D_i = |W_i|^2 / sum_j (W_i/|W_i| . W_j)^2: the share of a
        dimension feature i has to itself (1: a direction of its own; 0.4 each in a pentagon of 5 in 2 dimensions;
        0: not represented). It does not depend on the directions' lengths."""
        gram = np.einsum("kmi,kmj->kij", self.W, self.W)
        norms2 = np.einsum("kii->ki", gram)
        return np.where(norms2 > 1e-6, norms2**2 / np.maximum((gram**2).sum(axis=2), 1e-12), 0.0)

    def dimensions_per_feature(self) -> np.ndarray:
        """k: the paper's m / ||W||_F^2, hidden dimensions per represented feature (1: one each, as PCA would
        store them; 0.4: 2 dimensions shared by 5 features in a pentagon)."""
        return self.W.shape[1] / np.maximum((self.W**2).sum(axis=(1, 2)), 1e-12)

    def read(self, x: Sequence[float] | np.ndarray, model: int = 0) -> dict[str, np.ndarray]:
        """One input through one model: ``hidden`` (m, what the hidden dimensions hold), ``before`` (n, W^T h + b,
        the read-out before the ReLU: the feature itself plus the interference of the others) and ``out`` (n,
        after the ReLU)."""
        x = np.asarray(x, dtype=np.float64)
        if x.shape != (self.W.shape[2],):
            raise ValueError(f"An input needs one value per feature ({self.W.shape[2]}), not {x.shape}.")
        W, b = self.W[model], self.b[model]
        hidden = W @ x
        before = W.T @ hidden + b
        return {"hidden": hidden, "before": before, "out": np.maximum(before, 0.0)}

    def angles(self, model: int = 0) -> np.ndarray:
        """Degrees of each feature's direction in the plane (m = 2 only), in [0, 360)."""
        if self.W.shape[1] != 2:
            raise ValueError("Angles in a plane need m = 2 hidden dimensions.")
        x, y = self.W[model]
        return np.degrees(np.arctan2(y, x)) % 360


ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run PyTorch's CPU operations on one thread inside the block. With PyTorch's OpenMP backend (its Linux and
    Windows builds) the setting belongs to the calling thread, so other threads (other sessions of the app) keep
    theirs; it is put back afterwards either way."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def importance_decay(n: int, ratio: float) -> np.ndarray:
    """Importance ratio**i for features i = 0..n-1 (ratio 1: all alike), as the paper's examples use."""
    return ratio ** np.arange(n, dtype=np.float64)


def train(
    n_features: int = TOY_FEATURES,
    n_hidden: int = TOY_HIDDEN,
    sparsity: float | Sequence[float] = 0.9,
    importance: float | Sequence[float] = 1.0,
    *,
    steps: int = 2000,
    batch: int = 1024,
    lr: float = 1e-2,
    seed: int = 0,
) -> ToyModels:
    """Train one toy model per sparsity (all at once). ``importance`` is a ratio (see :func:`importance_decay`)
    or one weight per feature. Adam at ``lr``; W starts Xavier-normal, b at zero."""
    sparsities = tuple(float(s) for s in (sparsity if isinstance(sparsity, Sequence) else [sparsity]))
    if not all(0.0 <= s < 1.0 for s in sparsities):
        raise ValueError("sparsity is the chance that a feature is zero: pick values in [0, 1).")
    if not 1 <= n_hidden <= n_features:
        raise ValueError(f"Need 1 <= hidden dimensions <= features (got {n_hidden} and {n_features}).")
    weights = (
        importance_decay(n_features, float(importance))
        if np.isscalar(importance)
        else np.asarray(importance, dtype=np.float64)
    )
    if weights.shape != (n_features,):
        raise ValueError(f"importance must be one ratio or {n_features} weights.")
    k = len(sparsities)
    generator = torch.Generator().manual_seed(seed)
    W = torch.randn(k, n_hidden, n_features, generator=generator) * math.sqrt(2.0 / (n_hidden + n_features))
    W.requires_grad_(True)
    b = torch.zeros(k, n_features, requires_grad=True)
    keep = torch.tensor([1.0 - s for s in sparsities])[:, None, None]  # chance a feature is present
    importance_t = torch.tensor(weights, dtype=torch.float32)
    params = (W, b)
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    per_model = torch.zeros(k)
    with _one_thread(), torch.enable_grad():
        for step in range(1, steps + 1):
            present = torch.rand(k, batch, n_features, generator=generator) < keep
            x = torch.rand(k, batch, n_features, generator=generator) * present
            hidden = torch.einsum("kmn,kbn->kbm", W, x)
            out = torch.relu(torch.einsum("kmn,kbm->kbn", W, hidden) + b[:, None, :])
            per_model = ((x - out) ** 2 * importance_t).sum(-1).mean(-1)
            grads = torch.autograd.grad(per_model.sum(), params)
            with torch.no_grad():  # Adam (Kingma and Ba 2015), as torch.optim.Adam with its defaults
                for p, g, (m1, m2) in zip(params, grads, moments):
                    m1.mul_(ADAM_BETAS[0]).add_(g, alpha=1 - ADAM_BETAS[0])
                    m2.mul_(ADAM_BETAS[1]).addcmul_(g, g, value=1 - ADAM_BETAS[1])
                    denom = (m2 / (1 - ADAM_BETAS[1] ** step)).sqrt_().add_(ADAM_EPS)
                    p.addcdiv_(m1, denom, value=-lr / (1 - ADAM_BETAS[0] ** step))
    return ToyModels(
        W.detach().numpy().astype(np.float64),
        b.detach().numpy().astype(np.float64),
        sparsities,
        weights,
        per_model.detach().numpy(),
        steps,
    )
