"""The stacked maps' neighbour covariance (ohmap.linemaps.noise_covariance) against a Monte
Carlo of the stack's noise, and the 2 x 2 spaxel errors it gives (ohmap.inference.spaxels.bin_map)."""

import numpy as np

from ohmap.inference.spaxels import bin_map
from ohmap.linemaps.maps import LineMap
from ohmap.linemaps.noise_covariance import NEIGHBOUR_LAGS
from ohmap.linemaps.stack import stack_line
from ohmap.resample import FrameTransform

SHAPE = (24, 24)
TRANSFORMS = (
    FrameTransform(0.0, 0.0, 0.0),
    FrameTransform(37.0, 0.4, -0.3),
    FrameTransform(-81.0, -0.2, 0.6),
)
SIGMAS = (1.0, 0.7, 1.5)


def stacked(noise):
    entries = []
    for k, (t, s) in enumerate(zip(TRANSFORMS, SIGMAS)):
        error = np.full(SHAPE, s)
        m = LineMap("Ha", noise[k] * s, error, np.zeros(SHAPE, bool), 0.0, 0.0, 0.0)
        entries.append((f"{k}-G141", m, t))
    return stack_line("Ha", entries, SHAPE, np.ones(SHAPE, bool))


def test_neighbour_covariance_and_binned_errors_match_a_monte_carlo():
    rng = np.random.default_rng(5)
    reference = stacked(np.zeros((3, *SHAPE)))
    draws = np.array([stacked(rng.normal(size=(3, *SHAPE))).flux for _ in range(1500)])
    inner = (slice(6, 18), slice(6, 18))  # every map covers these
    assert np.all(np.isfinite(reference.error[inner]))
    for dy, dx in NEIGHBOUR_LAGS:
        a = draws[:, 6:18, 6:18]
        b = draws[:, 6 + dy : 18 + dy, 6 + dx : 18 + dx]
        empirical = np.mean(a * b, axis=0)
        predicted = reference.neighbour_covariance[(dy, dx)][inner]
        # Resampling correlates neighbours noticeably (the test is not of zeros)...
        assert np.mean(np.abs(predicted)) > 0.05 * np.mean(reference.error[inner] ** 2)
        # ...and the prediction is the covariance (MC error of a mean of products: ~3%).
        np.testing.assert_allclose(predicted.mean(), empirical.mean(), rtol=0.08, atol=0.003)
    binned = np.array([bin_map(d, reference.error, 2)[0] for d in draws])
    _, independent = bin_map(reference.flux, reference.error, 2)
    _, exact = bin_map(reference.flux, reference.error, 2, reference.neighbour_covariance)
    scatter = binned.std(axis=0)[3:9, 3:9]
    ratio = scatter / exact[3:9, 3:9]
    assert abs(np.mean(ratio) - 1.0) < 0.04
    # Errors added in quadrature understate the binned scatter.
    assert np.mean(scatter / independent[3:9, 3:9]) > 1.05
