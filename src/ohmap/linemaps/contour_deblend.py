"""The paper's per-PA de-blending of overlapping lines with an isophotal contour (Sect. 4.3).

Lines whose images overlap on one spectrum (H-beta with [OIII]4960,5008; H-alpha+[NII] with
[SII]) are grouped (:func:`blend_groups`). A contour of the direct image (10 per cent of the
peak by default, raised until no two free lines of a group overlap inside it) is applied at each
line's column, and the lines' maps inside it are solved for together, row by row, by weighted
least squares with [OIII]4960 tied to [OIII]5008/2.98 (:func:`deblend_rows`,
:func:`deblend_group`). Outside the contour the modelled lines are subtracted and pixels that
may still hold another line's flux are flagged ``blended``.
"""

from __future__ import annotations

import logging

import numpy as np
from scipy.ndimage import gaussian_filter

from ohmap import lines as L
from ohmap.lines import TIED_LINES

from .cutouts import (
    cutout_values,
    lanczos_row_weights,
    member_image,
    place_shifted,
    shifted_mask,
)
from .footprint import direct_on_map_grid, isophote, row_overlap
from .maps import LineMap

log = logging.getLogger(__name__)


def blend_groups(columns: dict, footprint: np.ndarray) -> list[list[str]]:
    """Lines whose footprints overlap on the spectrum (in some row), grouped transitively."""
    names = sorted(columns, key=columns.get)
    groups: list[list[str]] = []
    for name in names:
        if groups and row_overlap(footprint, columns[name] - columns[groups[-1][-1]]):
            groups[-1].append(name)
        else:
            groups.append([name])
    return groups


def deblend_rows(data, error, starts, members, support):
    """Row-by-row weighted least squares for overlapping line images.

    Parameters
    ----------
    data, error : ndarray
        Cleaned spectrum in line flux per pixel and its error (``inf`` = no data).
    starts : dict
        First spectrum column of each free line's map.
    members : list of tuple
        ``(name, parent, ratio, shift)``: a free line has ``parent None``; a tied line adds
        ``parent``'s map divided by ``ratio`` at ``shift`` columns from the parent's map start.
    support : ndarray of bool
        Map pixels (square map) where the free lines are solved for.

    Returns
    -------
    values, variances : dict of ndarray
        Per free line, the solved map inside ``support`` (0 elsewhere) and its variance
        (``inf`` where the row's system is singular or lacks data).
    model : ndarray
        The fitted line images on the spectrum grid (all group members), for subtraction.
    model_var : ndarray
        Variance of ``model`` (diagonal propagation).
    """
    ny, nx = data.shape
    free = [m[0] for m in members if m[1] is None]
    values = {name: np.zeros((ny, ny)) for name in free}
    variances = {name: np.full((ny, ny), np.inf) for name in free}
    model = np.zeros_like(data)
    model_var = np.zeros_like(data)
    for i in range(ny):
        ks = np.nonzero(support[i])[0]
        if ks.size == 0:
            continue
        # Columns of the spectrum each unknown lands on, with weights.
        entries = []  # (unknown index, column, weight)
        unknowns = [(name, k) for name in free for k in ks]
        index = {u: j for j, u in enumerate(unknowns)}
        for name, parent, ratio, shift in members:
            owner = name if parent is None else parent
            for k in ks:
                j = index[(owner, k)]
                if parent is None:
                    entries.append((j, starts[owner] + k, 1.0))
                else:
                    cols, w = lanczos_row_weights(shift)
                    for c, wc in zip(starts[owner] + k + cols, w / ratio):
                        entries.append((j, c, wc))
        cols = np.array(sorted({c for _, c, _ in entries if 0 <= c < nx}))
        if cols.size == 0:
            continue
        colpos = {c: r for r, c in enumerate(cols)}
        design = np.zeros((cols.size, len(unknowns)))
        for j, c, w in entries:
            if c in colpos:
                design[colpos[c], j] += w
        err = error[i, cols]
        ok = np.isfinite(err)
        if not ok.any():
            continue
        sw = 1.0 / err[ok]
        a = design[ok] * sw[:, None]
        b = data[i, cols][ok] * sw
        normal = a.T @ a
        determined = np.diag(normal) > 0
        sol = np.zeros(len(unknowns))
        var = np.full(len(unknowns), np.inf)
        if determined.any():
            sub = normal[np.ix_(determined, determined)]
            try:
                cov = np.linalg.inv(sub)
                cond_ok = np.all(np.isfinite(cov)) and np.linalg.cond(sub) < 1e8
            except np.linalg.LinAlgError:
                cond_ok = False
            if cond_ok:
                sol[determined] = cov @ (a[:, determined].T @ b)
                var[determined] = np.diag(cov)
        for (name, k), j in index.items():
            values[name][i, k] = sol[j] if np.isfinite(var[j]) else 0.0
            variances[name][i, k] = var[j]
        good = np.isfinite(var)
        row_model = design[:, good] @ sol[good]
        row_var = (design[:, good] ** 2) @ var[good]
        model[i, cols] += row_model
        model_var[i, cols] += row_var
    return values, variances, model, model_var


def deblend_group(
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
    own_continuum=None,
):
    """Paper's contour de-blending for one group of overlapping lines (see module docstring).

    ``own_continuum`` is ``(fit, dlam)`` when the continuum was fitted per row without a model
    (:class:`~ohmap.linemaps.continuum.WindowContinuum`): the group's total flux then gets the
    fit's row-wise correlation in its variance.
    """
    direct = direct_on_map_grid(spec.direct_image, footprint.shape[0])
    members = []
    for n in group:
        if n in free:
            members.append((n, None, 1.0, 0.0))
        else:
            parent, ratio = TIED_LINES[n]
            members.append((n, parent, ratio, present[n] - present[parent]))
    separations = [abs(present[a] - present[b]) for i, a in enumerate(free) for b in free[i + 1 :]]
    contour, level, clean, note = _contour(spec, direct, footprint, separations, free, settings)
    # Rows where the whole footprint is free of overlap are solved over all of it, so that only
    # the wide rows lose their wings to the contour.
    support = contour.copy()
    for i in range(footprint.shape[0]):
        row = footprint[i : i + 1]
        if row.any() and not any(row_overlap(row, s) for s in separations):
            support[i] = footprint[i]
    values, variances, model, model_var = deblend_rows(cleaned, err_flux, starts, members, support)
    contour = support
    ny = footprint.shape[0]
    shape = cleaned.shape
    outside = footprint & ~contour
    tied = [(n, p, r, sh) for n, p, r, sh in members if p is not None]
    # The paper's iteration: the tied line ([OIII]4960) is predicted from its parent's map and
    # subtracted, also outside the contour, where the parent is known only from its own cut-out.
    extra = np.zeros(shape)
    for _ in range(3 if tied else 1):
        full = {}
        for name in free:
            others = model - member_image(values[name], starts[name], shape) + extra
            full[name] = cutout_values(cleaned - others, starts[name], ny)
            full[name][contour] = values[name][contour]
        extra = np.zeros(shape)
        for _, parent, ratio, shift in tied:
            extra += place_shifted(full[parent] * outside, starts[parent] + shift, shape[1]) / ratio
    maps = {}
    total_flux, total_var = _group_total(
        cleaned, err_flux, present, starts, footprint, group, own_continuum
    )
    inner = {n: float(values[n][contour].sum()) for n in free}
    for name in free:
        start = starts[name]
        own_var = member_image(
            np.where(np.isfinite(variances[name]), variances[name], 0.0), start, shape
        )
        sub_var = np.maximum(model_var - own_var, 0.0)
        error = cutout_values(np.sqrt(err_flux**2 + sub_var), start, ny, fill=np.inf)
        flux = full[name].copy()
        error[contour] = np.sqrt(variances[name][contour])
        flux[~np.isfinite(error)] = 0.0
        # Pixels where another free line's unmodelled flux (outside the contour, smoothed to
        # beat the noise) would exceed twice this map's error are flagged as blended.
        blended = np.zeros((ny, ny), dtype=bool)
        for other in free:
            if other == name:
                continue
            wing = gaussian_filter(full[other] * outside, 1.0)
            predicted = cutout_values(place_shifted(wing, starts[other], shape[1]), start, ny)
            blended |= np.abs(predicted) > 2.0 * error
            if not clean:
                blended |= shifted_mask(contour, starts[other] - start) & contour
        # Integrated flux: the group's total (exact, no de-blending needed) split in the
        # proportions of the de-blended fluxes inside the contour.
        weights = {
            n: inner[n]
            * (1.0 + sum(1.0 / r for t, (p, r) in TIED_LINES.items() if p == n and t in group))
            for n in free
        }
        denom = sum(weights.values())
        frac = inner[name] / denom if denom > 0 else np.nan
        info = dict(
            window_info,
            method="deblended",
            deblended_with=",".join(n for n in group if n != name),
            contour_level=level,
            contour_clean=bool(clean),
            contour_pixels=int(contour.sum()),
            deblend_note=note,
            group_flux=total_flux,
            group_fraction=frac,
        )
        wavelength = L.LINES_BY_NAME[name].wavelength * (1.0 + redshift)
        m = LineMap(name, flux, error, blended, phases[name], present[name], wavelength, info=info)
        m.integrated_flux = frac * total_flux
        inner_var = variances[name][contour]
        inner_var = inner_var[np.isfinite(inner_var)]
        rel = np.sqrt(np.sum(inner_var)) / abs(inner[name]) if inner[name] else np.inf
        m.integrated_error = float(
            np.hypot(frac * np.sqrt(total_var), abs(m.integrated_flux) * rel * (1 - frac))
        )
        maps[name] = m
    return maps


def _contour(spec, direct, footprint, separations, free, settings):
    """The de-blending contour, its level (NaN without a direct image), whether the free lines
    are clear of each other inside it, and the note saying what was done (logged)."""
    level = settings.contour_level
    note = ""
    if direct is None:
        # Without a direct image there is no isophote, so the contour cannot be raised: the
        # footprint (a disc) is the contour and contour_level/contour_level_max do not apply.
        contour = footprint.copy()
        level = np.nan
        note = (
            "no direct image (none in the spectrum file, none resampled from the sample "
            "sheet's direct_image): the footprint is used as the contour"
        )
        clean = not any(row_overlap(contour, s) for s in separations)
    else:
        while True:
            contour = isophote(direct, level) & footprint
            clean = not any(row_overlap(contour, s) for s in separations)
            if clean or level + settings.contour_step > settings.contour_level_max + 1e-9:
                break
            level += settings.contour_step
        if level > settings.contour_level:
            note = (
                f"contour raised from {settings.contour_level:g} to {level:g} of the peak so "
                "the lines do not overlap"
            )
    if not clean and direct is None:
        note = (
            f"lines {', '.join(free)} overlap inside the footprint, which is the contour because "
            "the spectrum has no direct image (a grizli stack carries none: give the galaxy's "
            "direct_image and segmentation in the sample sheet); without an isophote the "
            f"contour cannot be raised towards linemaps.extraction.contour_level_max "
            f"({settings.contour_level_max:g} of the peak): their maps are blended inside it"
        )
    elif not clean:
        note = (
            f"lines {', '.join(free)} still overlap inside the contour at {level:g} of the peak, "
            f"the highest allowed (linemaps.extraction.contour_level_max = "
            f"{settings.contour_level_max:g}, in steps of contour_step = "
            f"{settings.contour_step:g} from contour_level = {settings.contour_level:g}): their "
            "maps are blended inside it"
        )
    if note:
        log_at = log.warning if not clean else log.info
        log_at("%s PA %s %s: %s", spec.galaxy, spec.pa, spec.grism, note)
    return contour, level, clean, note


def _group_total(cleaned, err_flux, present, starts, footprint, group, own_continuum=None):
    """Summed flux of all lines of a group: the union of their footprints on the spectrum.

    With ``own_continuum`` (``(fit, dlam)``) the variance includes the row-wise correlation of a
    continuum fitted without a model.
    """
    ny, nx = cleaned.shape
    union = np.zeros((ny, nx), dtype=bool)
    for n in group:
        union |= member_image(footprint.astype(float), starts[n], (ny, nx)) > 0
        # Sub-pixel spread of the image edges.
        union |= member_image(footprint.astype(float), starts[n] + 1, (ny, nx)) > 0
    ok = union & np.isfinite(err_flux)
    if not ok.any():
        return np.nan, np.nan
    # Pixels without data are made up for by their share of the union (uniform weighting).
    share = ok.sum() / union.sum()
    variance = np.sum(err_flux[ok] ** 2)
    if own_continuum is not None:
        fit, dlam = own_continuum
        variance += max(fit.extra_sum_variance(ok, dlam), 0.0)
    return float(cleaned[ok].sum() / share), float(variance / share**2)
