"""The toy model of superposition against the paper's known answers (Elhage et al. 2022): sparse features form a
regular pentagon, dense ones keep only the most important, and the paper's feature dimensionality."""

from __future__ import annotations

import numpy as np
import pytest

from interp.superposition import importance_decay, train


@pytest.fixture(scope="module")
def pentagon():
    return train(5, 2, sparsity=0.9, importance=1.0, steps=2000, seed=1)


@pytest.fixture(scope="module")
def dense():
    return train(5, 2, sparsity=0.0, importance=0.8, steps=2000, seed=0)


def test_sparse_features_form_a_regular_pentagon(pentagon):
    norms = pentagon.norms()[0]
    assert ((norms > 0.8) & (norms < 1.3)).all(), norms  # every feature gets a direction
    angles = np.sort(pentagon.angles())
    gaps = np.diff(np.r_[angles, angles[0] + 360])
    assert np.abs(gaps - 72).max() < 10, gaps  # neighbours 72 degrees apart
    np.testing.assert_allclose(pentagon.dimensionality()[0], 0.4, atol=0.05)  # 2 dimensions shared by 5
    assert (pentagon.interference()[0] > 0.05).all()  # the price: every read-out picks up the others


def test_dense_features_keep_only_the_most_important(dense):
    norms = dense.norms()[0]
    assert (norms[:2] > 0.9).all() and (norms[2:] < 0.1).all(), norms
    w0, w1 = dense.W[0][:, 0], dense.W[0][:, 1]
    assert abs(w0 @ w1) / (np.linalg.norm(w0) * np.linalg.norm(w1)) < 0.1  # orthogonal, as PCA would store them
    np.testing.assert_allclose(dense.dimensionality()[0], [1, 1, 0, 0, 0], atol=0.05)
    assert dense.interference()[0, :2].max() < 0.01


def test_a_sweep_trains_one_model_per_sparsity_and_superposition_grows():
    sweep = train(5, 2, sparsity=[0.0, 0.97], importance=0.8, steps=2000, seed=0)
    represented = sweep.represented().sum(axis=1)
    assert represented[0] == 2 and represented[1] == 5
    assert sweep.dimensionality()[1].max() < 0.6  # every feature shares its dimension
    again = train(5, 2, sparsity=[0.0, 0.97], importance=0.8, steps=2000, seed=0)
    np.testing.assert_array_equal(sweep.W, again.W)  # the same seed, the same models


def test_settings_are_checked():
    np.testing.assert_allclose(importance_decay(3, 0.5), [1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match="sparsity"):
        train(sparsity=1.0, steps=1)
    with pytest.raises(ValueError, match="hidden"):
        train(3, 4, steps=1)
    with pytest.raises(ValueError, match="importance"):
        train(5, 2, importance=[1.0, 1.0], steps=1)
    with pytest.raises(ValueError, match="m = 2"):
        train(5, 3, steps=1).angles()


def test_dimensions_per_feature_and_the_read_out(pentagon, dense):
    # the paper's m / ||W||_F^2: one dimension per kept feature when dense; five features share two when sparse
    np.testing.assert_allclose(dense.dimensions_per_feature(), [1.0], atol=0.05)
    assert pentagon.dimensions_per_feature()[0] < 0.45
    W, b = pentagon.W[0], pentagon.b[0]
    x = np.array([1.0, 0, 0, 0, 0])
    read = pentagon.read(x)
    np.testing.assert_allclose(read["hidden"], W[:, 0])
    np.testing.assert_allclose(read["before"], W.T @ W[:, 0] + b)  # the feature, plus the others' interference
    np.testing.assert_allclose(read["out"], np.maximum(read["before"], 0))
    assert abs(read["out"][0] - 1) < 0.1  # it comes back
    assert (read["before"][1:] < 0.3).all() and (read["out"][1:] < 0.25).all()  # the others leak only a little
    dropped = dense.read(np.array([0, 0, 1.0, 0, 0]))  # a dropped feature reads back its average, whatever comes in
    np.testing.assert_allclose(dropped["out"][2:], dense.b[0][2:], atol=0.05)
    with pytest.raises(ValueError, match="one value per feature"):
        pentagon.read([1.0, 0.0])


def test_training_is_adam_on_one_thread_and_puts_the_threads_back():
    """The hand-written Adam is torch.optim.Adam's update (same seed, same samples, same weights), and training
    leaves the thread setting as it found it."""
    import math

    import torch

    threads = torch.get_num_threads()
    ours = train(4, 2, sparsity=[0.0, 0.8], importance=0.9, steps=25, batch=64, lr=1e-2, seed=3)
    assert torch.get_num_threads() == threads
    generator = torch.Generator().manual_seed(3)
    W = (torch.randn(2, 2, 4, generator=generator) * math.sqrt(2.0 / 6)).requires_grad_(True)
    b = torch.zeros(2, 4, requires_grad=True)
    optimiser = torch.optim.Adam([W, b], lr=1e-2)
    keep = torch.tensor([1.0, 0.2])[:, None, None]
    importance = torch.tensor(importance_decay(4, 0.9), dtype=torch.float32)
    for _ in range(25):
        present = torch.rand(2, 64, 4, generator=generator) < keep
        x = torch.rand(2, 64, 4, generator=generator) * present
        out = torch.relu(torch.einsum("kmn,kbm->kbn", W, torch.einsum("kmn,kbn->kbm", W, x)) + b[:, None, :])
        loss = ((x - out) ** 2 * importance).sum(-1).mean(-1)
        optimiser.zero_grad()
        loss.sum().backward()
        optimiser.step()
    np.testing.assert_allclose(ours.W, W.detach().numpy(), atol=1e-5)
    np.testing.assert_allclose(ours.b, b.detach().numpy(), atol=1e-5)


def test_the_changes_of_a_sweep_are_where_its_count_of_features_steps():
    sweep = train(5, 2, sparsity=[0.0, 0.1, 0.97, 0.98], importance=0.8, steps=2000, seed=0)
    counts = sweep.represented().sum(axis=1)
    assert counts[0] == 2 and counts[-1] == 5
    changes = sweep.changes()
    assert changes[0] == 0 and 2 in changes and 3 not in changes  # the first model, then each step up, once
    assert all(counts[k] != counts[k - 1] for k in changes[1:])
    assert all(counts[k] == counts[k - 1] for k in range(1, 4) if k not in changes)
