"""Science settings of the line-map stage: the ``linemaps`` section of the configuration.

One dataclass per subsection, each built by :meth:`ohmap.settings.ConfigSection.from_config`:
``linemaps.extraction`` (:class:`ExtractionSettings`), ``linemaps.alignment``
(:class:`AlignmentSettings`), ``linemaps.vetting`` (:class:`VettingSettings`) and
``linemaps.stacking.joint`` (:class:`JointDeblendSettings`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ohmap import lines as L
from ohmap.settings import ConfigSection


@dataclass
class ExtractionSettings(ConfigSection):
    """Science settings of the extraction (the ``linemaps.extraction`` config section).

    Attributes
    ----------
    lines : tuple of str
        Map lines to extract (names in :data:`ohmap.lines.LINES_BY_NAME`).
    footprint_level : float
        Direct-image isophote (fraction of the peak) that, with the segmentation map, bounds the
        object footprint.
    footprint_grow_arcsec : float
        Growth of the footprint, arcsec, to take in the PSF wings and line emission that is more
        extended than the stellar light.
    footprint_noise_sigma : float
        The footprint's isophote is never below this many times the robust noise of the smoothed
        direct image (see :func:`~ohmap.linemaps.footprint.object_footprint`).
    footprint_grow_max_area : float
        The growth is reduced (to no less than one pixel) until the grown footprint is at most
        this many times the area of the ungrown one.
    contour_level, contour_level_max, contour_step : float
        De-blending contour: start level, highest level tried and step, as fractions of the
        direct-image peak (paper: about 10 per cent).
    continuum_window_pixels, window_gap_pixels : int
        Width of the line-free window on each side of a line group and its gap from the
        footprint's edge, in columns.
    residual_limit_sigma : float
        A window whose mean residual differs from zero by more than this many standard errors
        is flagged.
    residual_scatter_max : float
        A window whose residuals scatter by more than this many times their errors is flagged.
    continuum_scale_prior : float
        Prior width of the continuum model's rescaling (see :func:`~ohmap.linemaps.continuum.fit_continuum_scale`).
    min_coverage : float
        Fraction of the footprint that must have data for a map to be kept.
    contamination_model_fraction : float
        1-sigma fractional uncertainty of the contamination model's flux.
    contamination_trace_pixels : float
        1-sigma uncertainty of the contamination model's position across the dispersion,
        pixels. Both enter the error maps (see :func:`~ohmap.linemaps.continuum.contamination_model_variance`).
    """

    lines: tuple = L.MAP_LINES
    footprint_level: float = 0.02
    footprint_grow_arcsec: float = 0.3
    footprint_noise_sigma: float = 2.0
    footprint_grow_max_area: float = 3.0
    contour_level: float = 0.10
    contour_level_max: float = 0.5
    contour_step: float = 0.025
    continuum_window_pixels: int = 15
    window_gap_pixels: int = 2
    residual_limit_sigma: float = 4.0
    residual_scatter_max: float = 1.5
    continuum_scale_prior: float = 0.1
    min_coverage: float = 0.8
    contamination_model_fraction: float = 0.1
    contamination_trace_pixels: float = 0.1


@dataclass
class AlignmentSettings(ConfigSection):
    """Science settings of the alignment (the ``linemaps.alignment`` config section).

    Attributes
    ----------
    line : str or None
        Line to align on, alone; ``None`` fits all lines the PA shares with the reference
        (see ``joint``), or pairs this PA's lines with the reference's strongest line when
        there is no common line.
    max_shift_pixels : float
        Bound on ``|shift_x|`` and ``|shift_y|``, pixels.
    max_rotation_deg : float
        Bound on the rotation correction, degrees.
    min_expected_nccf : float
        Below this noise-limited NCCF (of the primary line pair) the map is too faint to align:
        the nominal transform is used and the fact recorded.
    min_nccf_ratio : float
        A fit whose NCCF is below this fraction of the noise-limited value is poor (vetting
        rejects the PA's maps).
    smooth_pixels : float
        Gaussian sigma (pixels) by which both maps are smoothed before the fit. It does not
        move the optimum (see the module notes) and lowers the noise; 0 fits the maps as
        extracted.
    min_pixel_snr : float
        If positive, only reference-footprint pixels whose reference S/N exceeds this are used.
        Kept for old configurations: any such cut biases the shift towards the reference's
        noise peaks, so the default is 0 (all footprint pixels).
    joint : bool
        Fit all usable common lines jointly (one transform, summed chi-square). Off by default:
        on the mock the secondary lines (de-blended H-beta, [SII]) carry de-blending residuals
        that pull the transform more than their signal helps.
    min_line_snr : float
        Integrated S/N a line map must exceed, in the PA's map and in the reference's, to be
        aligned on: below it in the primary pair the nominal transform is kept (a fit to a
        barely detected map is mostly a fit to its noise); in the joint fit, lines below it
        are left out.
    search_step_pixels : float
        Step of the coarse grid over the shifts that starts the fit, pixels.
    search_smooth_pixels : float
        Gaussian sigma (pixels) of the smoothing applied for the coarse grid only, which widens
        the chi-square valley so that the grid cannot step over it.
    max_shift_error_pixels : float
        A fit whose 1-sigma error on either shift exceeds this (pixels) is too faint to align:
        it would not be clearly better than the nominal transform.
    rotation_prior_deg : float or None
        1-sigma of a Gaussian prior on the rotation correction (degrees), centred on 0; it keeps
        the fit stable when the rotation is weakly constrained. ``None`` or 0: no prior.
    max_rotation_error_deg : float
        The rotation correction is kept only if the data alone measure it to this 1-sigma
        error (degrees); otherwise it is 0 and only the shifts are fitted.
    """

    line: str | None = None
    max_shift_pixels: float = 3.0
    max_rotation_deg: float = 4.0
    min_expected_nccf: float = 0.3
    min_nccf_ratio: float = 0.8
    smooth_pixels: float = 1.0
    min_pixel_snr: float = 0.0
    joint: bool = False
    min_line_snr: float = 5.0
    search_step_pixels: float = 1.0
    search_smooth_pixels: float = 1.5
    max_shift_error_pixels: float = 0.5
    rotation_prior_deg: float | None = 1.0
    max_rotation_error_deg: float = 0.5


@dataclass
class VettingSettings(ConfigSection):
    """Science settings of the vetting (the ``linemaps.vetting`` config section).

    Attributes
    ----------
    reject_residual_flag : bool
        Reject maps whose continuum windows show residuals inconsistent with zero-mean noise.
    reject_poor_alignment : bool
        Reject the maps of a PA-grism whose alignment fit is poor.
    outlier_sigma, max_outlier_fraction : float
        A map with more than ``max_outlier_fraction`` of its off-source pixels beyond
        ``outlier_sigma`` is taken to have a reduction defect.
    max_noise_ratio : float
        A map whose off-source pixels scatter by more than this many times their stated errors
        is rejected (its error map does not describe it).
    """

    reject_residual_flag: bool = True
    reject_poor_alignment: bool = True
    outlier_sigma: float = 5.0
    max_outlier_fraction: float = 0.005
    max_noise_ratio: float = 1.5


@dataclass
class JointDeblendSettings(ConfigSection):
    """Settings of the joint multi-PA de-blending.

    Attributes
    ----------
    support_grow_pixels : int
        Growth of the support (union of the footprints on the reference grid), pixels.
    prior_scale : float
        Width of the zero-mean prior on every unknown pixel, in units of the 99.5th percentile
        of the absolute cleaned flux per pixel over the modelled data pixels.
    kernel : {"lanczos3", "cubic", "linear"}
        Interpolation kernel of the forward model (the stack uses Lanczos-3).
    exact_max_unknowns : int
        Up to this many unknowns the posterior variances are exact (dense inverse, O(n^3));
        above it they are estimated by Rao-Blackwellised Monte Carlo.
    variance_samples : int
        Posterior samples for the Monte Carlo variances.
    inflation_limit : float
        Pixels whose error is more than this many times the error they would have if the other
        lines were known are counted as degenerate in the diagnostics.
    prior_dominated_ratio : float
        Pixels whose error exceeds this fraction of ``prior_sigma`` are counted as fixed by the
        prior rather than by the data.
    seed : int
        Seed of the Monte Carlo variance samples (results are reproducible).
    """

    support_grow_pixels: int = 2
    prior_scale: float = 3.0
    kernel: str = "lanczos3"
    exact_max_unknowns: int = 3000
    variance_samples: int = 100
    inflation_limit: float = 3.0
    prior_dominated_ratio: float = 0.5
    seed: int = 0


def stacking_settings(section: dict | None, source: str = "linemaps.stacking"):
    """The resampling kernel and the joint de-blending settings (None when ``joint_deblend`` is
    off) of the ``linemaps.stacking`` configuration section."""
    section = dict(section or {})
    joint = None
    if section.get("joint_deblend", True):
        joint = JointDeblendSettings.from_config(section.get("joint"), f"{source}.joint")
    return section.get("kernel", "lanczos3"), joint
