"""Vetting and inverse-variance stacking of aligned line maps (Wang et al. 2017, Sect. 4.3).

Each PA-grism map of a line is resampled onto the reference grid with the exact sparse operator
of :mod:`ohmap.resample` (so its error map follows), maps that fail vetting are left out with the
reason recorded, and the rest are combined pixel by pixel with inverse-variance weights.
Pixels flagged ``blended`` in a map (possible flux of another line) do not enter the stack.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ohmap.resample import resample, resampling_matrix

from .joint_deblend import joint_deblend
from .maps import StackedMap
from .settings import VettingSettings

log = logging.getLogger(__name__)


def vet_map(
    line_map, footprint, alignment_status: str, settings: VettingSettings
) -> tuple[bool, str]:
    """Whether a PA-grism line map goes into the stack, and why (not)."""
    if settings.reject_residual_flag and line_map.info.get("residual_flag"):
        return False, (
            f"continuum/contamination residuals not zero-mean noise "
            f"(z = {line_map.info.get('residual_z', np.nan):.1f})"
        )
    if settings.reject_poor_alignment and alignment_status.startswith("poor"):
        return False, f"alignment {alignment_status}"
    off = np.isfinite(line_map.error) & ~footprint & ~line_map.blended
    if off.sum() > 20:
        z = line_map.flux[off] / line_map.error[off]
        outliers = np.mean(np.abs(z) > settings.outlier_sigma)
        if outliers > settings.max_outlier_fraction:
            return (
                False,
                f"reduction defects: {outliers:.1%} of off-source pixels beyond {settings.outlier_sigma:g} sigma",
            )
        ratio = float(np.std(z))
        if ratio > settings.max_noise_ratio:
            return False, f"off-source scatter {ratio:.2f} x the error map"
    return True, "accepted"


def stack_line(line: str, entries, out_shape, aperture, kernel: str = "lanczos3") -> StackedMap:
    """Inverse-variance mean of one line's maps on the reference grid.

    Parameters
    ----------
    line : str
    entries : list of tuple
        ``(label, LineMap, FrameTransform)`` for every accepted map.
    out_shape : tuple of int
        Shape of the reference grid.
    aperture : ndarray of bool
        Reference-grid pixels summed for the aperture flux.
    """
    num = np.zeros(out_shape)
    wsum = np.zeros(out_shape)
    count = np.zeros(out_shape, dtype=int)
    resampled = []
    for label, m, transform in entries:
        matrix = resampling_matrix(
            out_shape, m.flux.shape, transform, in_x_phase=m.x_phase, kernel=kernel
        )
        error = np.where(m.blended, np.inf, m.error)
        f, e = resample(m.flux, error, matrix, out_shape)
        ok = np.isfinite(e) & (e > 0)
        w = np.where(ok, 1.0 / np.where(ok, e, 1.0) ** 2, 0.0)
        num += w * f
        wsum += w
        count += ok
        resampled.append((matrix, error, w))
    has = wsum > 0
    flux = np.where(has, num / np.where(has, wsum, 1.0), 0.0)
    err = np.where(has, 1.0 / np.sqrt(np.where(has, wsum, 1.0)), np.inf)
    out = StackedMap(line, flux, err, count, [label for label, _, _ in entries])
    if np.any(aperture) and np.all(has[aperture]):
        # The aperture sum is linear in the input pixels: its variance is exact, including the
        # correlations the resampling introduces between neighbouring output pixels.
        var = 0.0
        coeff_out = np.where(aperture, 1.0, 0.0).ravel()
        for matrix, error, w in resampled:
            c = (coeff_out * (w / np.where(has, wsum, 1.0)).ravel()) @ matrix
            e = error.ravel()
            good = np.isfinite(e)
            var += float(np.sum((c[good] * e[good]) ** 2))
        out.aperture_flux = float(flux[aperture].sum())
        out.aperture_error = float(np.sqrt(var))
    return out


def combine_integrated(values, errors) -> tuple[float, float]:
    """Inverse-variance mean of independent integrated fluxes (NaNs ignored)."""
    v = np.asarray(values, dtype=float)
    e = np.asarray(errors, dtype=float)
    ok = np.isfinite(v) & np.isfinite(e) & (e > 0)
    if not ok.any():
        return np.nan, np.nan
    w = 1.0 / e[ok] ** 2
    return float(np.sum(w * v[ok]) / w.sum()), float(1.0 / np.sqrt(w.sum()))


@dataclass
class GalaxyStack:
    """Everything the stacking step produces for one galaxy.

    Attributes
    ----------
    stacks : dict
        Line -> :class:`~ohmap.linemaps.maps.StackedMap` on the reference grid.
    vetting : list of dict
        One row per PA-grism and requested line: ``status`` (``accepted``, ``rejected``,
        ``not_extracted``) and the reason.
    fluxes : list of dict
        One row per requested line: integrated fluxes and where they came from.
    notes : dict
        Line -> why it has no stacked map.
    joint : dict
        Blend group (tuple of lines) -> diagnostics of its joint de-blending
        (:func:`ohmap.linemaps.joint_deblend.joint_deblend`).
    """

    stacks: dict
    vetting: list
    fluxes: list
    notes: dict
    joint: dict = field(default_factory=dict)


def blend_groups_of(extractions: dict, lines) -> list[tuple]:
    """Groups of ``lines`` that some extraction de-blended together (its maps' provenance
    names the partners), merged across PA-grisms, in the order of ``lines``."""
    partners = {line: {line} for line in lines}
    for ex in extractions.values():
        for name, m in ex.maps.items():
            if name in partners and m.info.get("method") == "deblended":
                for other in filter(None, str(m.info.get("deblended_with", "")).split(",")):
                    if other in partners:
                        merged = partners[name] | partners[other]
                        for member in merged:
                            partners[member] = merged
    groups = {tuple(n for n in lines if n in group) for group in partners.values()}
    return sorted((g for g in groups if len(g) > 1), key=lambda g: list(lines).index(g[0]))


def stack_galaxy(
    extractions: dict,
    alignments: dict,
    reference_key,
    lines,
    settings: VettingSettings,
    kernel: str = "lanczos3",
    joint=None,
) -> GalaxyStack:
    """Vet every PA-grism map of one galaxy and stack each line on the reference grid.

    Parameters
    ----------
    extractions : dict
        ``(pa, grism)`` -> :class:`ohmap.linemaps.maps.Extraction`.
    alignments : dict
        ``(pa, grism)`` -> :class:`ohmap.linemaps.align.AlignmentResult`.
    reference_key : tuple
        ``(pa, grism)`` of the reference map grid.
    lines : sequence of str or None
        Lines wanted (in output order); None: every line some PA-grism extracted, in the order
        of the extractions.
    settings : VettingSettings
    kernel : str
        Resampling kernel (see :mod:`ohmap.resample`).
    joint : ohmap.linemaps.settings.JointDeblendSettings or None
        When given, lines that were de-blended (H-beta with [OIII], H-alpha with [SII]) are
        solved again jointly from the cleaned 2D spectra of all accepted PA-grisms
        (:func:`ohmap.linemaps.joint_deblend.joint_deblend`), wherever at least two PA-grisms cover the group;
        their maps and fluxes replace the stacks of the per-PA de-blended maps, which are biased
        for extended galaxies (docs/linemaps.md). ``None`` keeps the per-PA contour method.

    Returns
    -------
    GalaxyStack
        Integrated fluxes: ``flux`` is the adopted value. For a stacked line it is the
        inverse-variance mean of the accepted maps' own footprint fluxes (each
        coverage-corrected, ``flux_per_pa``); for a jointly de-blended line the joint
        solution summed over the reference footprint. ``aperture_flux`` is the final map summed
        over the reference footprint (NaN when a footprint pixel has no data).
    """
    if lines is None:
        lines = list(dict.fromkeys(n for ex in extractions.values() for n in ex.maps))
    reference = extractions[reference_key]
    shape = reference.footprint.shape
    vetting, fluxes, stacks, notes = [], [], {}, {}
    accepted = {}
    for line in lines:
        entries, keys, values, errors = [], [], [], []
        for key in sorted(extractions):
            ex = extractions[key]
            row = dict(
                pa=key[0],
                grism=key[1],
                line=line,
                alignment=alignments[key].status,
                integrated_flux=np.nan,
                integrated_error=np.nan,
            )
            if line not in ex.maps:
                why = next(
                    (d["reason"] for d in ex.decisions if d["line"] == line), "not requested"
                )
                status = next(
                    (d["status"] for d in ex.decisions if d["line"] == line), "not_extracted"
                )
                vetting.append(dict(row, status="not_extracted", reason=f"{status}: {why}"))
                continue
            m = ex.maps[line]
            row.update(integrated_flux=m.integrated_flux, integrated_error=m.integrated_error)
            ok, reason = vet_map(m, ex.footprint, alignments[key].status, settings)
            vetting.append(dict(row, status="accepted" if ok else "rejected", reason=reason))
            if ok:
                entries.append((f"{key[0]}-{key[1]}", m, alignments[key].transform))
                keys.append(key)
                values.append(m.integrated_flux)
                errors.append(m.integrated_error)
        accepted[line] = keys
        flux, error = combine_integrated(values, errors)
        without_model = [e[0] for e in entries if not e[1].info.get("continuum_model", True)]
        frow = dict(
            line=line,
            method="stack",
            n_maps=len(entries),
            contributors=",".join(e[0] for e in entries),
            flux=flux,
            flux_error=error,
            flux_per_pa=flux,
            flux_per_pa_error=error,
            aperture_flux=np.nan,
            aperture_error=np.nan,
            blend_group="",
            correlation="",
            continuum=(
                f"fitted in line-free windows (no continuum model): {', '.join(without_model)}"
                if without_model
                else "model"
            ),
        )
        if entries:
            stacks[line] = stack_line(line, entries, shape, reference.footprint, kernel)
            frow.update(
                aperture_flux=stacks[line].aperture_flux, aperture_error=stacks[line].aperture_error
            )
        else:
            rows = [r for r in vetting if r["line"] == line]
            notes[line] = (
                (
                    "no PA-grism map accepted: "
                    + "; ".join(f"{r['pa']}-{r['grism']} {r['reason']}" for r in rows)
                )
                if rows
                else "no spectrum"
            )
        fluxes.append(frow)
    diagnostics = {}
    if joint is not None:
        diagnostics = _joint_groups(
            extractions, alignments, reference, lines, accepted, stacks, fluxes, notes, joint
        )
    for row in vetting:
        log.info(
            "%s-%s %s: %s (%s)", row["pa"], row["grism"], row["line"], row["status"], row["reason"]
        )
    for row in fluxes:
        log.info(
            "%s (%s): %d maps, %.2f +- %.2f 1e-17 erg/s/cm2 (per-PA %.2f +- %.2f)",
            row["line"],
            row["method"],
            row["n_maps"],
            row["flux"],
            row["flux_error"],
            row["flux_per_pa"],
            row["flux_per_pa_error"],
        )
    for line, note in notes.items():
        log.warning("%s: no stacked map: %s", line, note)
    return GalaxyStack(stacks, vetting, fluxes, notes, diagnostics)


def _joint_groups(
    extractions, alignments, reference, lines, accepted, stacks, fluxes, notes, settings
):
    """Replace the stacks of per-PA de-blended lines by their joint multi-PA solution."""
    rows = {r["line"]: r for r in fluxes}
    out = {}
    for group in blend_groups_of(extractions, lines):
        # A PA-grism enters when it has an accepted map of some member and none of its member
        # maps was rejected (all members share the same cleaned columns).
        keys = sorted({k for line in group for k in accepted[line]})
        keys = [
            k
            for k in keys
            if all(k in accepted[line] or line not in extractions[k].maps for line in group)
        ]
        label = "+".join(group)
        if len(keys) < 2:
            log.info(
                "%s: %d accepted PA-grism(s); joint de-blending needs two, the per-PA contour "
                "solution is kept",
                label,
                len(keys),
            )
            continue
        entries = [(f"{k[0]}-{k[1]}", extractions[k], alignments[k].transform) for k in keys]
        maps, diag = joint_deblend(
            list(group), entries, reference.footprint.shape, reference.footprint, settings
        )
        out[group] = diag
        names, cov = diag["aperture_covariance"]
        sigma = dict(zip(names, np.sqrt(np.diag(cov)))) if names else {}
        for line, sm in maps.items():
            sm.method = "joint"
            stacks[line] = sm
            notes.pop(line, None)
            if line in names:
                i = names.index(line)
                sm.covariance = {
                    other: float(cov[i, j]) for j, other in enumerate(names) if other != line
                }
            correlation = {
                other: c / (sigma[line] * sigma[other])
                for other, c in sm.covariance.items()
                if sigma[line] > 0 and sigma[other] > 0
            }
            rows[line].update(
                method="joint",
                n_maps=len(sm.contributors),
                contributors=",".join(sm.contributors),
                flux=sm.aperture_flux,
                flux_error=sm.aperture_error,
                aperture_flux=sm.aperture_flux,
                aperture_error=sm.aperture_error,
                blend_group=label,
                correlation=",".join(f"{k}={v:+.3f}" for k, v in correlation.items()),
            )
        log.info(
            "%s: joint de-blending of %d PA-grisms, %d unknowns, chi2/dof %.2f, %.1f s; %s",
            label,
            len(entries),
            diag["n_unknowns"],
            diag["residual"]["chi2_per_dof"],
            diag["time_s"],
            "; ".join(diag["notes"]) or "no notes",
        )
    return out
