"""Emission-line maps from one 2D grism spectrum (one galaxy, one PA, one grism).

Wang et al. (2017), Sect. 4.3. In slitless data an extended source is an image of itself at the
column where each emission line lands, so a line map is a cut-out of the spectrum centred on
that column, after the contamination model and the galaxy's own (locally rescaled) continuum
model have been subtracted.

Steps, in :func:`extract_line_maps`:

1. The **object footprint** ``G``: the direct-image light connected to the stamp centre above
   a small fraction of its peak, together with the segmentation map, grown by
   ``footprint_grow_arcsec``; line emission is taken to lie within it.
2. **Contamination** model subtracted everywhere. The model is not exact (its flux scale and
   its trace position are uncertain), so its uncertainty joins every pixel's error
   (:func:`~ohmap.linemaps.continuum.contamination_model_variance`); without it, residual contamination from a bright
   neighbour looks like significant line flux and pulls the alignment.
3. **Continuum**: for each group of lines whose images can overlap, the continuum model is
   rescaled (a linear function of column) to match the observed level in line-free windows on
   both sides, then subtracted. The residuals in those windows are tested against zero-mean
   noise and the result is recorded with each map. A spectrum without a continuum model
   (``meta['has_continuum_model']`` False) gets its own: a straight line in wavelength per row,
   fitted in the same windows (:func:`~ohmap.linemaps.continuum.fit_window_continuum`); its
   maps say so (``continuum_model`` False in their provenance).
4. **Cut-outs** of every line in the grism's usable range, in line flux per pixel
   (1e-17 erg/s/cm^2), with an error map.
5. **De-blending** of lines whose images overlap (H-beta with [OIII]4960,5008; H-alpha+[NII]
   with [SII]): the paper's isophotal-contour method. A contour of the direct image (10 per cent
   of the peak by default) is applied at each line's column, and the lines' maps inside the
   contour are solved for together, row by row, by weighted least squares with [OIII]4960 tied
   to [OIII]5008/2.98 (Storey & Zeippen 2000). This is the fixed point of the paper's
   "subtract 4960, iterate" procedure. The contour level is raised until no two free lines of a
   group overlap inside it; where that cannot be done the decision is logged and written to the
   map's provenance. Outside the contour the modelled lines are subtracted and pixels that may
   still hold another line's unmodelled flux are flagged ``blended`` (left out of stacks).

Maps are square, with as many columns as the spectrum has rows, centred on the line's column;
pixel ``(i, k)`` lies at ``x = k - (n-1)/2 + x_phase`` along the dispersion (see
:mod:`ohmap.resample`).
"""

from __future__ import annotations

import logging

import numpy as np

from ohmap import lines as L
from ohmap.lines import TIED_LINES
from ohmap.spectra.grisms import get_grism
from ohmap.spectra.spectrum import Spectrum2D

from .continuum import (
    contamination_model_variance,
    continuum_windows,
    fit_continuum_scale,
    fit_window_continuum,
    window_residuals,
)
from .contour_deblend import blend_groups, deblend_group
from .cutouts import cutout_values, line_column, member_image
from .footprint import direct_on_map_grid, object_footprint
from .maps import Extraction, LineMap
from .settings import ExtractionSettings

log = logging.getLogger(__name__)


def _decision(line, status, reason, **extra):
    return dict(line=line, status=status, reason=reason, **extra)


def extract_line_maps(
    spec: Spectrum2D, redshift: float, settings: ExtractionSettings | None = None
) -> Extraction:
    """Line maps of every requested line that the spectrum covers.

    Parameters
    ----------
    spec : Spectrum2D
        Ingested spectrum (flux density per pixel, 1e-17 erg/s/cm^2/Angstrom).
    redshift : float
        Catalogue redshift of the galaxy.
    settings : ExtractionSettings, optional

    Returns
    -------
    Extraction
        Maps keyed by line name, the footprint and one decision per requested line (extracted,
        or why not).
    """
    settings = settings or ExtractionSettings()
    grism = get_grism(spec.grism, spec.source)
    ny, nx = spec.shape
    wave = spec.wavelength
    dlam = np.gradient(wave)
    footprint, how = object_footprint(spec, settings)
    decisions = []
    log.info(
        "%s PA %s %s: footprint of %d pixels (%s)",
        spec.galaxy,
        spec.pa,
        spec.grism,
        footprint.sum(),
        how,
    )

    wanted = [n for n in settings.lines]
    present = _lines_on_spectrum(wanted, redshift, grism, wave, decisions)

    # Flux density -> line flux per pixel.
    science = spec.science - spec.contamination
    error = np.sqrt(
        spec.error**2
        + contamination_model_variance(
            spec.contamination,
            settings.contamination_model_fraction,
            settings.contamination_trace_pixels,
        )
    )
    error = np.where(spec.valid, error, np.inf)
    cleaned = np.zeros_like(science)
    cleaned_error = np.full(science.shape, np.inf)
    centre = (ny - 1) / 2.0
    maps = {}
    for group in blend_groups(present, footprint):
        err_flux, window_info, own_continuum = _remove_continuum(
            spec, group, present, footprint, science, error, dlam, cleaned, cleaned_error, settings
        )
        free = [n for n in group if n not in TIED_LINES or TIED_LINES[n][0] not in group]
        starts = {n: int(np.round(present[n] - centre)) for n in group}
        phases = {n: starts[n] + centre - present[n] for n in group}
        if len(free) == 1 and len(group) == 1:
            name = group[0]
            maps[name] = _cutout(
                name,
                cleaned,
                err_flux,
                starts[name],
                phases[name],
                present[name],
                redshift,
                footprint,
                dict(method="isolated", **window_info),
                direct_on_map_grid(spec.direct_image, ny),
                None if own_continuum is None else (own_continuum, dlam),
            )
            continue
        maps.update(
            deblend_group(
                spec,
                group,
                free,
                present,
                starts,
                phases,
                cleaned,
                err_flux,
                footprint,
                redshift,
                settings,
                window_info,
                own_continuum=None if own_continuum is None else (own_continuum, dlam),
            )
        )

    _keep_covered(maps, wanted, footprint, settings.min_coverage, decisions)
    if not maps:
        log.warning("%s PA %s %s: no line map extracted", spec.galaxy, spec.pa, spec.grism)
    return Extraction(
        spec.galaxy,
        spec.pa,
        spec.grism,
        spec.dispersion_pa,
        spec.pixel_scale,
        footprint,
        maps,
        decisions,
        spec.direct_image,
        cleaned,
        cleaned_error,
        dict(present),
        float(redshift),
    )


def _lines_on_spectrum(wanted, redshift: float, grism, wave, decisions) -> dict:
    """Fractional columns of the requested map lines, and of the lines tied to them, that the
    grism's usable range and the spectrum's wavelength grid cover; a requested line that is not
    covered gets a decision saying why."""
    present = {}
    for name in wanted + [t for t, (p, _) in TIED_LINES.items() if p in wanted]:
        lam = L.LINES_BY_NAME[name].wavelength * (1.0 + redshift)
        if not grism.covers(lam):
            if name in wanted:
                decisions.append(
                    _decision(
                        name,
                        "not_covered",
                        f"observed {lam:.0f} A is outside the {grism.name} usable "
                        f"range {grism.wavelength_min:.0f}-{grism.wavelength_max:.0f} A",
                    )
                )
            continue
        if not (wave[0] <= lam <= wave[-1]):
            if name in wanted:
                decisions.append(
                    _decision(
                        name,
                        "not_covered",
                        f"observed {lam:.0f} A is outside the spectrum's wavelength grid",
                    )
                )
            continue
        present[name] = line_column(wave, lam)
    return present


def _remove_continuum(
    spec, group, present, footprint, science, error, dlam, cleaned, cleaned_error, settings
):
    """Rescale the continuum model in the windows beside one group of lines and subtract it over
    the group's columns, writing ``cleaned`` and ``cleaned_error`` (line flux per pixel) there.

    Returns the error map in line flux per pixel (with the rescaling's uncertainty in the group's
    columns) and the continuum fit's record for the maps' provenance.
    """
    ny, nx = spec.shape
    centre = (ny - 1) / 2.0
    group_cols = [present[n] for n in group]
    others = [c for n, c in present.items() if n not in group]
    windows = continuum_windows(group_cols, footprint, nx, others, settings)
    gcentre = float(np.mean(group_cols))
    lo = max(int(np.floor(min(group_cols) - centre)) - 1, 0)
    hi = min(int(np.ceil(max(group_cols) + centre)) + 2, nx)
    cols = np.arange(lo, hi)
    if not spec.meta.get("has_continuum_model", True):
        return _fit_own_continuum(
            spec,
            group,
            windows,
            gcentre,
            cols,
            footprint,
            science,
            error,
            dlam,
            cleaned,
            cleaned_error,
            settings,
        )
    cont = fit_continuum_scale(
        science,
        error,
        spec.continuum,
        windows,
        footprint.any(axis=1),
        gcentre,
        settings.continuum_scale_prior,
    )
    residual_flag = cont["n_window_pixels"] > 1 and (
        abs(cont["residual_z"]) > settings.residual_limit_sigma
        or cont["residual_std"] > settings.residual_scatter_max
    )
    basis = np.stack([np.ones(cols.size), cols - gcentre])
    scale = cont["a"] + cont["b"] * (cols - gcentre)
    # The rescaling's own uncertainty enters every pixel's error (it is correlated along
    # the rows; integrated fluxes get the exact sum in _continuum_variance).
    scale_var = np.einsum("ik,ij,jk->k", basis, cont["cov"], basis)
    cleaned[:, cols] = (science[:, cols] - spec.continuum[:, cols] * scale[None, :]) * dlam[cols]
    err_flux = error * dlam[None, :]
    err_flux[:, cols] = np.sqrt(
        err_flux[:, cols] ** 2 + (spec.continuum[:, cols] * dlam[cols]) ** 2 * scale_var[None, :]
    )
    cleaned_error[:, cols] = err_flux[:, cols]
    window_info = dict(
        continuum_model=True,
        continuum_scale=cont["a"],
        continuum_scale_slope=cont["b"],
        window_sides=cont["window_sides"],
        window_pixels=cont["n_window_pixels"],
        residual_mean_sigma=cont["residual_mean_sigma"],
        residual_std=cont["residual_std"],
        residual_z=cont["residual_z"],
        residual_flag=bool(residual_flag),
    )
    if cont["window_sides"] == 0:
        window_info["continuum_note"] = (
            "no line-free window on either side: continuum model used unscaled"
        )
    if residual_flag:
        _warn_residuals(spec, group, cont)
    return err_flux, window_info, None


def _warn_residuals(spec, group, cont):
    log.warning(
        "%s PA %s %s lines %s: continuum/contamination residuals not consistent with "
        "zero-mean noise (z = %.1f, scatter %.2f)",
        spec.galaxy,
        spec.pa,
        spec.grism,
        ",".join(group),
        cont["residual_z"],
        cont["residual_std"],
    )


def _fit_own_continuum(
    spec,
    group,
    windows,
    gcentre,
    cols,
    footprint,
    science,
    error,
    dlam,
    cleaned,
    cleaned_error,
    settings,
):
    """:func:`_remove_continuum` for a spectrum without a continuum model: a straight line in
    wavelength per row, fitted in the windows, is subtracted instead (rows without window data
    get no data over the group's columns). Returns the same plus the fit, whose row-wise
    correlation the integrated fluxes need."""
    centre_wave = float(np.interp(gcentre, np.arange(spec.wavelength.size), spec.wavelength))
    fit = fit_window_continuum(science, error, spec.wavelength, windows, centre_wave)
    cont = window_residuals(science, error, fit, windows, footprint.any(axis=1))
    value, var = fit.evaluate(cols)
    unfitted = fit.order < 0
    value[unfitted] = 0.0
    cleaned[:, cols] = (science[:, cols] - value) * dlam[cols]
    err_flux = error * dlam[None, :]
    err_flux[:, cols] = np.sqrt(err_flux[:, cols] ** 2 + var * dlam[cols] ** 2)
    cleaned_error[:, cols] = err_flux[:, cols]
    residual_flag = cont["n_window_pixels"] > 1 and (
        cont["residual_std"] > settings.residual_scatter_max
    )
    rows = footprint.any(axis=1)
    window_info = dict(
        continuum_model=False,
        continuum_method="no continuum model in the spectrum: straight line in wavelength per "
        "row fitted in the windows (constant where a row has one side), subtracted",
        continuum_rows_sloped=int(np.sum(fit.order[rows] == 1)),
        continuum_rows_constant=int(np.sum(fit.order[rows] == 0)),
        continuum_rows_unfitted=int(np.sum(unfitted[rows])),
        window_sides=cont["window_sides"],
        window_pixels=cont["n_window_pixels"],
        residual_mean_sigma=cont["residual_mean_sigma"],
        residual_std=cont["residual_std"],
        residual_z=cont["residual_z"],
        residual_flag=bool(residual_flag),
    )
    log.info(
        "%s PA %s %s lines %s: no continuum model; continuum fitted per row in %d window "
        "pixels (%d rows sloped, %d constant, %d without window data)",
        spec.galaxy,
        spec.pa,
        spec.grism,
        ",".join(group),
        cont["n_window_pixels"],
        window_info["continuum_rows_sloped"],
        window_info["continuum_rows_constant"],
        window_info["continuum_rows_unfitted"],
    )
    if residual_flag:
        _warn_residuals(spec, group, cont)
    return err_flux, window_info, fit


def _keep_covered(maps: dict, wanted, footprint, min_coverage: float, decisions) -> None:
    """Record each requested map's footprint coverage, reject (with the reason) those below
    ``min_coverage``, and drop the maps of tied lines, which were only needed to de-blend."""
    for name in wanted:
        if name not in maps:
            continue
        m = maps[name]
        coverage = float(np.isfinite(m.error)[footprint].mean())
        m.info["coverage"] = coverage
        if coverage < min_coverage:
            if m.info.get("method") == "deblended" and not m.info.get("contour_clean", True):
                why = f"could not be de-blended ({m.info['deblend_note']}); {coverage:.0%} of the footprint solved"
            else:
                why = (
                    f"only {coverage:.0%} of the footprint has data (line near the edge of the "
                    f"spectrum or of the grism's sensitivity)"
                )
            decisions.append(_decision(name, "rejected", why))
            del maps[name]
            continue
        decisions.append(_decision(name, "extracted", m.info.get("method", "")))
    for name in list(maps):
        if name not in wanted:
            del maps[name]


def _cutout(
    name,
    cleaned,
    err_flux,
    start,
    phase,
    column,
    redshift,
    footprint,
    info,
    weight=None,
    own_continuum=None,
):
    ny = cleaned.shape[0]
    flux = cutout_values(cleaned, start, ny)
    error = cutout_values(err_flux, start, ny, fill=np.inf)
    flux[~np.isfinite(error)] = 0.0
    lam = L.LINES_BY_NAME[name].wavelength * (1.0 + redshift)
    m = LineMap(
        name, flux, error, np.zeros((ny, ny), dtype=bool), phase, column, lam, info=dict(info)
    )
    m.integrated_flux, m.integrated_error = integrate(flux, error, footprint, weight)
    if own_continuum is not None and np.isfinite(m.integrated_error):
        # The continuum fitted per row is shared by the row's columns: the exact variance of
        # the sum exceeds the sum of the pixel variances by this.
        fit, dlam = own_continuum
        ok = footprint & np.isfinite(error)
        mask = member_image(ok.astype(float), start, cleaned.shape) > 0
        extra = fit.extra_sum_variance(mask, dlam) / _share(ok, footprint, weight) ** 2
        m.integrated_error = float(np.sqrt(m.integrated_error**2 + max(extra, 0.0)))
        m.info["continuum_correlation_variance"] = float(extra)
    return m


def _share(ok, aperture, weight=None) -> float:
    """Share of ``weight`` (uniform if ``None``) of the ``aperture`` that falls on ``ok``."""
    w = np.ones(ok.shape) if weight is None else np.clip(np.nan_to_num(weight), 0.0, None)
    return w[ok].sum() / w[aperture].sum() if w[aperture].sum() > 0 else ok.sum() / aperture.sum()


def integrate(flux, error, aperture, weight=None):
    """Sum of ``flux`` over ``aperture`` and its error.

    Pixels without data are made up for by dividing by the share of ``weight`` (the
    direct-image light; uniform if ``None``) that falls on pixels with data. NaN when no pixel
    of the aperture has data.
    """
    ok = aperture & np.isfinite(error)
    if not ok.any():
        return np.nan, np.nan
    share = _share(ok, aperture, weight)
    return float(flux[ok].sum() / share), float(np.sqrt(np.sum(error[ok] ** 2)) / share)
