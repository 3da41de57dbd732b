"""Object footprint on noisy direct images with neighbours (``ohmap.linemaps.footprint.object_footprint``)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
from scipy.ndimage import binary_dilation

import ohmap.linemaps.extract as extract
from ohmap.linemaps.extract import extract_line_maps
from ohmap.linemaps.footprint import (
    direct_on_map_grid,
    isophote,
    object_footprint,
    smoothed_direct,
)
from ohmap.linemaps.settings import ExtractionSettings

NY = 65
C = (NY - 1) / 2.0


def _stamp(noise, seed=3, neighbour=True):
    """A round exponential galaxy at the centre (peak 1), optionally a neighbour 16 px away,
    Gaussian sky noise; and a segmentation map with the galaxy as id 7, the neighbour as id 9."""
    y, x = np.mgrid[0:NY, 0:NY].astype(float)
    galaxy = np.exp(-np.hypot(x - C, y - C) / 2.5)
    other = 0.8 * np.exp(-np.hypot(x - C - 16, y - C) / 2.0) if neighbour else 0 * x
    direct = galaxy + other + np.random.default_rng(seed).normal(0, noise, (NY, NY))
    seg = np.zeros((NY, NY), dtype=int)
    seg[galaxy > 0.08] = 7
    seg[other > 0.08] = 9
    spec = SimpleNamespace(
        shape=(NY, 200), pixel_scale=0.128, direct_image=direct, segmentation=seg
    )
    return spec, galaxy, other, seg


def test_noisy_stamp_footprint_holds_the_galaxy_not_the_neighbour_or_the_sky():
    # Sky noise 0.05 of the peak per pixel: 2 per cent of the peak is far below the noise, as in
    # the real GOODS-S stamps (peak/noise ~ 20-40).
    spec, galaxy, other, seg = _stamp(noise=0.05)
    fp, how = object_footprint(spec, ExtractionSettings())
    # All of the galaxy that stands clearly above the noise is inside.
    assert fp[galaxy > 0.15].all()
    # Nothing of the neighbour's segment nor its core.
    assert not (fp & (seg == 9)).any()
    assert not fp[other > 0.05].any()
    # No sky: outside 3 px around where the noiseless galaxy, smoothed, stands 1 sigma of the
    # smoothed sky (0.05 / (2 sqrt(pi))) above zero, there is almost nothing.
    allowed = binary_dilation(smoothed_direct(galaxy) > 0.05 / (2 * np.sqrt(np.pi)), iterations=3)
    assert (fp & ~allowed).sum() <= 0.05 * fp.sum(), how
    assert "segment 7" in how and "less 1 neighbour" in how
    # The same stamp without the noise floor leaks into the sky (the failure guarded against).
    leaky, _ = object_footprint(spec, ExtractionSettings(footprint_noise_sigma=0.0))
    assert (leaky & ~allowed).sum() > 100


def test_clean_stamp_footprint_is_the_peak_fraction_isophote():
    # A nearly noiseless image (the mock): the noise floor is inactive and the footprint is the
    # 2-per-cent isophote plus the segment, grown, exactly as without the floor.
    spec, galaxy, _, _ = _stamp(noise=1e-5, neighbour=False)
    fp, _ = object_footprint(spec, ExtractionSettings())
    ref, _ = object_footprint(
        spec, ExtractionSettings(footprint_noise_sigma=0.0, footprint_grow_max_area=np.inf)
    )
    assert np.array_equal(fp, ref)
    assert fp[isophote(spec.direct_image, 0.02)].all()


def test_growth_of_a_compact_footprint_is_capped_but_not_below_one_pixel():
    spec, _, _, _ = _stamp(noise=1e-5, neighbour=False)
    spec.segmentation = None
    d = np.zeros((NY, NY))
    d[31:34, 31:34] = 1.0  # a 3x3 source, isophote of 9-21 px after smoothing
    spec.direct_image = d
    core, _ = object_footprint(spec, ExtractionSettings(footprint_grow_arcsec=0.0))
    st = ExtractionSettings(footprint_grow_arcsec=1.0)  # 8 px: ~20x the area without the cap
    fp, how = object_footprint(spec, st)
    assert core.sum() < fp.sum() <= st.footprint_grow_max_area * core.sum(), how
    assert fp[core].all()


# ----------------------------------------------------------------------------------- real data


def _legacy_footprint(spec, settings):
    """The footprint before noise floor and neighbour handling: the 2-per-cent isophote or the
    central segment, grown by 2 px (0.3 arcsec at 0.128 arcsec per pixel)."""
    ny = spec.shape[0]
    seg = direct_on_map_grid(spec.segmentation, ny).astype(int)
    mask = isophote(direct_on_map_grid(spec.direct_image, ny), 0.02) | (
        seg == seg[ny // 2, ny // 2]
    )
    return binary_dilation(mask, iterations=2), "legacy"


def test_real_grizli_object_footprint_is_the_galaxy_and_sharpens_the_fluxes(
    grizli_object_dir, monkeypatch
):
    from ohmap.spectra.grizli_beams import read_grizli_beams

    spectra = read_grizli_beams(grizli_object_dir / "j033216m2743_00152.model-trace.beams.fits")
    for spec in spectra:
        fp, how = object_footprint(spec, ExtractionSettings())
        seg = direct_on_map_grid(spec.segmentation, fp.shape[0]).astype(int)
        assert seg[fp.shape[0] // 2, fp.shape[0] // 2] == 152 and "segment 152" in how
        # The catalogue segment of id 152 is ~70 px; it and the light above 2 sigma, grown by
        # 0.3" (2 px), stay under 200 px (the 2-per-cent isophote gave 437 and 602, reaching
        # into the sky and the neighbours 149, 150 and 155).
        assert fp[seg == 152].all()
        assert not fp[(seg > 0) & (seg != 152)].any()
        assert 70 < fp.sum() < 200, how
        assert _legacy_footprint(spec, None)[0].sum() > 2 * fp.sum()
    spec = next(s for s in spectra if s.grism == "G141")
    new = extract_line_maps(spec, 1.743).maps["OIII5008"]
    monkeypatch.setattr(extract, "object_footprint", _legacy_footprint)
    old = extract_line_maps(spec, 1.743).maps["OIII5008"]
    # Legacy: 19 +- 9; now about 9 +- 3.
    assert new.integrated_error < 0.6 * old.integrated_error
    assert (
        new.integrated_flux / new.integrated_error
        > 1.2 * old.integrated_flux / old.integrated_error
    )
