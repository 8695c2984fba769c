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
