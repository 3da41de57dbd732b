"""Joint multi-PA de-blending (ohmap.linemaps.joint_deblend) on synthetic spectra."""

from __future__ import annotations

import numpy as np
import pytest

from linemap_helpers import gaussian_image, synthetic_spectrum
from ohmap import lines as L
from ohmap.linemaps.extract import extract_line_maps
from ohmap.linemaps.joint_deblend import (
    forward_operator,
    group_members,
    inverse_transform,
    joint_deblend,
)
from ohmap.linemaps.maps import Extraction
from ohmap.linemaps.settings import JointDeblendSettings
from ohmap.resample import FrameTransform, frame_coordinates, resampling_matrix

NY = 48
GROUP = ["Hb", "OIII5008"]
# Two G141-like line spacings (H-beta, [OIII]4960, [OIII]5008) and a G102-like one.
COLS_A = {"Hb": 40.3, "OIII4960": 51.45, "OIII5008": 56.6}
COLS_B = {"Hb": 40.7, "OIII4960": 62.1, "OIII5008": 72.3}
PAS = [
    ("A", FrameTransform(), COLS_A),
    ("B", FrameTransform(85.0, 0.3, -0.4), COLS_A),
    ("C", FrameTransform(-30.0, -0.2, 0.5), COLS_B),
]


def hbeta_source(x, y):
    return gaussian_image(x, y, 5.0, 3.0, 30.0, flux=100.0) + gaussian_image(
        x, y, 1.5, 1.5, 0.0, flux=20.0, x0=4.0, y0=-5.0
    )


def oiii_source(x, y):
    return gaussian_image(x, y, 4.0, 3.5, -20.0, flux=300.0, x0=1.0) + gaussian_image(
        x, y, 1.2, 1.2, 0.0, flux=60.0, x0=-6.0, y0=3.0
    )


SOURCES = {
    "Hb": hbeta_source,
    "OIII5008": oiii_source,
    "OIII4960": lambda x, y: oiii_source(x, y) / L.OIII_5008_TO_4960,
}


def to_reference(transform, u, v):
    """Reference-frame position of PA-frame points (FrameTransform's definition, written out
    independently of ohmap.linemaps.joint_deblend)."""
    d = np.radians(transform.rotation_deg)
    c, s = np.cos(d), np.sin(d)
    du, dv = u - transform.shift_x, v - transform.shift_y
    return c * du - s * dv, s * du + c * dv


def truth_maps():
    x, y = frame_coordinates((NY, NY))
    maps = {name: SOURCES[name](x, y) for name in GROUP}
    total = maps["Hb"] + maps["OIII5008"]
    return maps, total > 0.003 * total.max()


def _extraction(label, columns, sci, err, footprint, transform):
    # The PA's own footprint: the reference footprint seen in this PA's frame.
    r = resampling_matrix((NY, NY), footprint.shape, inverse_transform(transform), kernel="linear")
    pa_fp = (r @ footprint.ravel().astype(float)).reshape(NY, NY) > 0.5
    return Extraction(
        "test", label, "G141", 0.0, 0.065, pa_fp, {}, [], None, sci, err, dict(columns), 1.5
    )


def analytic_entries(pas, noise=0.0, seed=0, nx=140, lines=("Hb", "OIII4960", "OIII5008")):
    """PA spectra sampled exactly from the analytic sources (no interpolation)."""
    rng = np.random.default_rng(seed)
    _, footprint = truth_maps()
    i, j = np.mgrid[0:NY, 0:nx].astype(float)
    out = []
    for label, transform, columns in pas:
        sci = np.zeros((NY, nx))
        for name in lines:
            sci += SOURCES[name](*to_reference(transform, j - columns[name], i - (NY - 1) / 2.0))
        if noise:
            sci = sci + rng.normal(0.0, noise, sci.shape)
        err = np.full(sci.shape, noise if noise else 1e-4)
        cols = {n: c for n, c in columns.items() if n in lines}
        out.append((label, _extraction(label, cols, sci, err, footprint, transform), transform))
    return out


def model_entries(pas, maps, footprint, error=1e-4, nx=140):
    """PA spectra made with the forward operator itself from reference-grid ``maps``."""
    pad = 10
    grid = (NY + 2 * pad, NY + 2 * pad)
    out = []
    for label, transform, columns in pas:
        ex = _extraction(
            label, columns, np.zeros((NY, nx)), np.full((NY, nx), error), footprint, transform
        )
        lo, hi, ops = forward_operator(ex, transform, group_members(GROUP, columns), grid)
        model = np.zeros(NY * (hi - lo))
        for parent, coef, b in ops:
            padded = np.zeros(grid)
            padded[pad:-pad, pad:-pad] = maps[parent]
            model += coef * (b @ padded.ravel())
        ex.cleaned[:, lo:hi] = model.reshape(NY, hi - lo)
        out.append((label, ex, transform))
    return out


# ----------------------------------------------------------------------------------- geometry


def test_inverse_transform_undoes_the_transform():
    t = FrameTransform(37.0, 0.6, -1.3)
    u, v = np.array([0.0, 3.5, -7.0]), np.array([0.0, -2.0, 4.25])
    # inverse maps PA -> reference coordinates; t.target_to_source maps them back.
    x, y = inverse_transform(t).target_to_source(u, v)
    assert np.allclose(to_reference(t, u, v), (x, y))
    assert np.allclose(t.target_to_source(x, y), (u, v))


def test_forward_operator_is_consistent_with_the_stack():
    """A smooth reference map carried into a PA's spectrum by the forward operator lands where
    the analytic source does, and the stack's operator (PA map -> reference) carries it back."""
    t = FrameTransform(70.0, 0.4, -0.3)
    x, y = frame_coordinates((NY, NY))
    ref = gaussian_image(x, y, 4.0, 2.5, 20.0, x0=1.5, y0=-1.0)
    columns = {"Hb": 60.37}
    ex = _extraction("p", columns, np.zeros((NY, 140)), np.ones((NY, 140)), ref > 0, t)
    pad = 8
    grid = (NY + 2 * pad, NY + 2 * pad)
    lo, hi, ops = forward_operator(ex, t, group_members(["Hb"], columns), grid)
    padded = np.zeros(grid)
    padded[pad:-pad, pad:-pad] = ref
    spec = (ops[0][2] @ padded.ravel()).reshape(NY, hi - lo)
    i, j = np.mgrid[0:NY, lo:hi].astype(float)
    analytic = gaussian_image(
        *to_reference(t, j - columns["Hb"], i - (NY - 1) / 2.0), 4.0, 2.5, 20.0, x0=1.5, y0=-1.0
    )
    assert np.abs(spec - analytic).max() < 5e-3 * ref.max()
    # The PA's line map (cut-out at the line's column) goes back with the stack's operator.
    centre = (NY - 1) / 2.0
    start = int(round(columns["Hb"] - centre))
    phase = start + centre - columns["Hb"]
    pa_map = spec[:, start - lo : start - lo + NY]
    back = resampling_matrix((NY, NY), (NY, NY), t, in_x_phase=phase) @ pa_map.ravel()
    inner = np.hypot(x, y) < 12
    assert np.abs(back.reshape(NY, NY) - ref)[inner].max() < 5e-3 * ref.max()


def test_group_members_tie_oiii4960_to_oiii5008():
    members = group_members(GROUP, COLS_A)
    assert ("OIII4960", "OIII5008", pytest.approx(1.0 / 2.98)) in members
    assert group_members(["Hb"], COLS_A) == [("Hb", "Hb", 1.0)]


# ----------------------------------------------------------------------------------- recovery


def test_noiseless_recovery_is_exact_for_data_the_model_can_describe():
    maps, footprint = truth_maps()
    truth = {n: np.where(footprint, m, 0.0) for n, m in maps.items()}
    entries = model_entries(PAS, truth, footprint)
    out, diag = joint_deblend(GROUP, entries, (NY, NY), footprint)
    assert diag["variance_method"].startswith("exact")
    for name in GROUP:
        assert np.abs(out[name].flux - truth[name]).max() < 1e-6 * truth[name].max()
        assert out[name].aperture_flux == pytest.approx(truth[name].sum(), rel=1e-6)
        assert out[name].n_maps[footprint].min() == 3
        assert out[name].contributors == ["A", "B", "C"]
    assert diag["residual"]["chi2_per_dof"] < 1e-6


def test_two_pas_recover_overlapping_extended_lines_from_analytic_spectra():
    """The sources are larger than the lines' separation, and the data are sampled exactly
    (independently of the forward operator): only the interpolation kernel limits the maps."""
    maps, footprint = truth_maps()
    assert np.ptp(np.nonzero(footprint.any(axis=0))[0]) > 20  # wider than the 16-column spacing
    out, diag = joint_deblend(GROUP, analytic_entries(PAS[:2]), (NY, NY), footprint)
    for name in GROUP:
        assert np.abs(out[name].flux - maps[name])[footprint].max() < 0.01 * maps[name].max()
        assert out[name].aperture_flux == pytest.approx(maps[name][footprint].sum(), rel=2e-3)
    assert diag["lines"]["Hb"]["degenerate_fraction"] == 0.0


@pytest.mark.parametrize("exact_max", [100000, 0])
def test_noisy_pulls_are_unit_normal_and_aperture_flux_within_errors(exact_max):
    maps, footprint = truth_maps()
    settings = JointDeblendSettings(exact_max_unknowns=exact_max, variance_samples=60)
    out, diag = joint_deblend(
        GROUP, analytic_entries(PAS[:2], noise=0.05, seed=3), (NY, NY), footprint, settings
    )
    assert diag["variance_method"].startswith("exact" if exact_max else "Rao")
    for name in GROUP:
        m = out[name]
        ok = np.isfinite(m.error)
        pulls = (m.flux - maps[name])[ok] / m.error[ok]
        assert 0.8 < pulls.std() < 1.25
        assert abs(m.aperture_flux - maps[name][footprint].sum()) < 3 * m.aperture_error
    assert 0.9 < diag["residual"]["chi2_per_dof"] < 1.1


def test_aperture_error_matches_the_scatter_over_noise_realisations():
    maps, footprint = truth_maps()
    sums, errors = [], []
    # The aperture variance is exact whichever way the pixel variances are found: use the cheap one.
    settings = JointDeblendSettings(exact_max_unknowns=0, variance_samples=10)
    for seed in range(8):
        out, diag = joint_deblend(
            GROUP, analytic_entries(PAS[:2], noise=0.05, seed=seed), (NY, NY), footprint, settings
        )
        sums.append(out["Hb"].aperture_flux)
        errors.append(out["Hb"].aperture_error)
    names, cov = diag["aperture_covariance"]
    assert names == GROUP and np.sqrt(cov[0, 0]) == pytest.approx(errors[-1])
    assert cov[0, 1] == pytest.approx(cov[1, 0])
    # 8 realisations: the scatter is known to about 25 per cent.
    assert np.std(sums, ddof=1) == pytest.approx(np.mean(errors), rel=0.5)
    assert abs(np.mean(sums) - maps["Hb"][footprint].sum()) < 3 * np.mean(errors) / np.sqrt(8)


def test_ignoring_the_tied_4960_line_would_bias_the_maps():
    """[OIII]4960 is modelled as [OIII]5008 / 2.98 at its own column: with it, the maps come out
    right; a spectrum whose 4960 flux is left unmodelled (column unknown) gives a bad fit."""
    maps, footprint = truth_maps()
    entries = analytic_entries(PAS[:2])
    out, diag = joint_deblend(GROUP, entries, (NY, NY), footprint)
    assert out["OIII5008"].aperture_flux == pytest.approx(
        maps["OIII5008"][footprint].sum(), rel=2e-3
    )
    for _, ex, _ in entries:
        del ex.columns["OIII4960"]
    bad, bad_diag = joint_deblend(GROUP, entries, (NY, NY), footprint)
    assert bad_diag["residual"]["chi2_per_dof"] > 100 * diag["residual"]["chi2_per_dof"]


def test_a_single_pa_gives_finite_documented_results():
    maps, footprint = truth_maps()
    out, diag = joint_deblend(GROUP, analytic_entries(PAS[:1], noise=0.05), (NY, NY), footprint)
    for name in GROUP:
        m = out[name]
        assert np.all(np.isfinite(m.flux))
        assert np.all(np.isfinite(m.error[footprint]))
        assert np.isfinite(m.aperture_flux) and np.isfinite(m.aperture_error)
        assert m.contributors == ["A"]
        # The degeneracy shows: many pixels are held by the prior and carry large errors.
        assert diag["lines"][name]["degenerate_fraction"] > 0.3
        assert any(note.startswith(f"{name}: constrained by 1 PA-grism") for note in diag["notes"])
    assert np.isfinite(diag["residual"]["chi2_per_dof"])


def test_aperture_flux_is_summed_over_the_constrained_part_of_the_footprint():
    """Rows of the footprint that no spectrum's data reach: left out of the aperture sum, whose
    coverage says so (before, the aperture flux was NaN)."""
    maps, footprint = truth_maps()
    entries = analytic_entries(PAS[:1], noise=0.05)
    entries[0][1].cleaned_error[:20] = np.inf
    out, _ = joint_deblend(GROUP, entries, (NY, NY), footprint)
    for name in GROUP:
        m = out[name]
        covered = footprint & np.isfinite(m.error)
        assert m.aperture_coverage == pytest.approx(covered.sum() / footprint.sum())
        assert 0.2 < m.aperture_coverage < 0.9
        assert m.aperture_flux == pytest.approx(m.flux[covered].sum())
        assert np.isfinite(m.aperture_error) and m.aperture_error > 0


def test_lines_missing_from_a_pa_and_unconstrained_pixels():
    """Only the PAs whose spectra hold a line constrain it; a line on no spectrum is absent."""
    maps, footprint = truth_maps()
    entries = analytic_entries(PAS[:2], lines=("Hb",)) + analytic_entries(PAS[2:], noise=0.0)
    out, diag = joint_deblend(["Hb", "OIII5008", "SII"], entries, (NY, NY), footprint)
    assert "SII" not in out and any("SII" in n for n in diag["notes"])
    assert out["OIII5008"].contributors == ["C"]
    assert out["Hb"].contributors == ["A", "B", "C"]
    assert np.all(np.isinf(out["Hb"].error[~diag["support"]]))


def test_extracted_spectra_end_to_end():
    """Two PAs made with the synthetic-spectrum builder and run through extract_line_maps."""
    z = 1.5
    t = FrameTransform(80.0, 0.0, 0.0)

    def ref_scene(x, y):
        return gaussian_image(x, y, 4.5, 3.0, 30.0)

    fluxes = {"Hb": 60.0, "OIII5008": 200.0, "OIII4960": 200.0 / L.OIII_5008_TO_4960}
    exs = []
    for k, transform in enumerate([FrameTransform(), t]):

        def scene(u, v, transform=transform):
            return ref_scene(*to_reference(transform, u, v))

        spec, _ = synthetic_spectrum(fluxes, z, noise=0.002, seed=k, source=scene)
        spec.pa_v3 = float(k)
        exs.append((str(k), extract_line_maps(spec, z), transform))
    ref_fp = exs[0][1].footprint
    out, diag = joint_deblend(GROUP, exs, ref_fp.shape, ref_fp)
    x, y = frame_coordinates(ref_fp.shape)
    for name in GROUP:
        truth = fluxes[name] * ref_scene(x, y)
        m = out[name]
        assert abs(m.aperture_flux - truth[ref_fp].sum()) < 3 * m.aperture_error
        assert m.aperture_error < 0.05 * fluxes[name]
    assert diag["residual"]["chi2_per_dof"] < 1.3
