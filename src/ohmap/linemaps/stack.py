"""Vetting and inverse-variance stacking of aligned line maps (Wang et al. 2017, Sect. 4.3).

Each PA-grism map of a line is resampled onto the reference grid with the exact sparse operator
of :mod:`ohmap.resample` (so its error map follows), maps that fail vetting are left out with the
reason recorded, and the rest are combined pixel by pixel with inverse-variance weights.
Pixels flagged ``blended`` in a map (possible flux of another line) do not enter the stack.
Lines de-blended together are also solved jointly from all PA-grisms; :func:`choose_deblend`
decides which solution a blend group keeps, and :func:`blend_conservation` whether its maps
add up to the blend's integrated flux.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np

from ohmap.lines import TIED_LINES
from ohmap.resample import resample, resampling_matrix

from .footprint import direct_on_map_grid
from .joint_deblend import joint_deblend
from .maps import StackedMap, aperture_coverage
from .noise_covariance import neighbour_covariance
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


def stack_line(
    line: str, entries, out_shape, aperture, kernel: str = "lanczos3", light=None
) -> StackedMap:
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
    kernel : str
        Resampling kernel (see :mod:`ohmap.resample`).
    light : ndarray or None
        Reference direct image on the same grid, for the light share of the covered pixels.

    Returns
    -------
    StackedMap
        ``aperture_flux`` is the stack summed over the aperture pixels that have data (no
        correction for the others; NaN only when none has data), ``aperture_error`` its exact
        error, ``aperture_coverage`` and ``aperture_light`` the pixel fraction and the
        direct-light share of the aperture that those pixels hold.
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
    out.neighbour_covariance = neighbour_covariance(resampled, wsum, out_shape)
    out.aperture_coverage, out.aperture_light = aperture_coverage(has, aperture, light)
    covered = aperture & has
    if np.any(covered):
        # The aperture sum is linear in the input pixels: its variance is exact, including the
        # correlations the resampling introduces between neighbouring output pixels.
        var = 0.0
        coeff_out = np.where(covered, 1.0, 0.0).ravel()
        for matrix, error, w in resampled:
            c = (coeff_out * (w / np.where(has, wsum, 1.0)).ravel()) @ matrix
            e = error.ravel()
            good = np.isfinite(e)
            var += float(np.sum((c[good] * e[good]) ** 2))
        out.aperture_flux = float(flux[covered].sum())
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
        (:func:`ohmap.linemaps.joint_deblend.joint_deblend`), with ``maps`` (the joint maps, kept
        whichever solution is adopted) and ``choice`` (:class:`DeblendChoice`).
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
        (:func:`ohmap.linemaps.joint_deblend.joint_deblend`), wherever at least two PA-grisms
        cover the group; their maps and fluxes replace the stacks of the per-PA de-blended
        maps only where the joint solution is the better estimate (:func:`choose_deblend`).
        ``None`` keeps the per-PA contour method.

    Returns
    -------
    GalaxyStack
        Integrated fluxes: ``flux`` is the adopted value. For a stacked line it is the
        inverse-variance mean of the accepted maps' own footprint fluxes (each
        coverage-corrected, ``flux_per_pa``); for a jointly de-blended line the joint
        solution summed over the reference footprint, divided by the covered share
        (:meth:`~ohmap.linemaps.maps.StackedMap.corrected_aperture`). ``aperture_flux`` is the
        final map summed over the reference-footprint pixels with data (not corrected),
        ``aperture_coverage`` and ``aperture_light`` the pixel fraction and direct-light share
        of the footprint those pixels hold. Lines of a blend group also get ``joint_flux``,
        ``joint_flux_error`` (the joint solution, coverage-corrected, NaN where it was not
        run) and ``deblend_choice`` (which solution, why, and whether the maps conserve the
        blend's flux).
    """
    if lines is None:
        lines = list(dict.fromkeys(n for ex in extractions.values() for n in ex.maps))
    reference = extractions[reference_key]
    shape = reference.footprint.shape
    light = direct_on_map_grid(reference.direct_image, shape[0])
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
            aperture_coverage=np.nan,
            aperture_light=np.nan,
            joint_flux=np.nan,
            joint_flux_error=np.nan,
            blend_group="",
            deblend_choice="",
            correlation="",
            continuum=(
                f"fitted in line-free windows (no continuum model): {', '.join(without_model)}"
                if without_model
                else "model"
            ),
        )
        if entries:
            stacks[line] = stack_line(line, entries, shape, reference.footprint, kernel, light)
            frow.update(_aperture_columns(stacks[line]))
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
    diagnostics = _deblend_groups(
        extractions, alignments, reference, lines, accepted, stacks, fluxes, notes, joint, light
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


# ---------------------------------------------------------------------------------------------
# Blend groups: the joint or the per-PA solution (docs/linemaps.md, "Which de-blending")
# ---------------------------------------------------------------------------------------------

#: Agreement required (in standard errors) between two estimates of the same flux.
DEBLEND_NSIGMA = 3.0


@dataclass
class DeblendChoice:
    """Which solution a blend group's maps and fluxes come from (``adopted``: ``"joint"`` or
    ``"stack"``), why (``reason``, with the numbers), and the numbers (``checks``: per line
    ``joint``, ``joint_error``, ``per_pa``, ``per_pa_error`` in 1e-17 erg/s/cm^2 and ``z``,
    their difference in combined errors; under ``"total"``, ``z`` of the blend's total)."""

    adopted: str
    reason: str
    checks: dict = field(default_factory=dict)


def blend_coefficients(group, extractions) -> dict:
    """Line -> weight of its flux in the blend's total: 1, plus ``1 / ratio`` for a tied line
    the models carry with it ([OIII]5008: 1 + 1/2.98 where [OIII]4960 is on a spectrum, as in
    the joint model and the per-PA contour method)."""
    on = {name for ex in extractions for name in ex.columns}
    tied = [(p, r) for t, (p, r) in TIED_LINES.items() if t in on and t not in group]
    return {line: 1.0 + sum(1.0 / r for p, r in tied if p == line) for line in group}


def blend_total(values: dict, coefficients: dict) -> tuple[float, float]:
    """The blend's total ``sum c_L F_L`` of ``values`` (line -> (flux, error)) and ``sum c_L
    sigma_L``, an upper bound on its error whatever the lines' correlation (NaN if any is)."""
    c = np.array([coefficients.get(n, 1.0) for n in values])
    f, e = (np.array([values[n][k] for n in values], dtype=float) for k in (0, 1))
    if not values or not np.all(np.isfinite(f) & np.isfinite(e)):
        return np.nan, np.nan
    return float(c @ f), float(c @ e)


def blend_conservation(
    values: dict, per_pa: dict, coefficients: dict, what: str = "per-PA maps'"
) -> tuple[float, str]:
    """Whether a group's fluxes (line -> (flux, error): its maps summed over the aperture and
    coverage-corrected, or the joint fluxes) add up to its integrated per-PA flux, which is
    exact (the whole blend is summed before the per-PA method splits it).

    Returns the difference of the totals in units of the integrated total's error
    (:func:`blend_total`) and a sentence with the numbers. Both totals are sums, or fits, of
    the same spectrum pixels: the lines' split errors cancel in a total, and what differs (flux
    counted in two lines' maps, or in none) is a sum over part of those pixels, whose noise is
    at most the total's; so that error alone is the yardstick (with the maps' own errors,
    which the split dominates, a double count of the whole blend would go unseen).
    """
    both = [n for n in values if n in per_pa]
    tv, _ = blend_total({n: values[n] for n in both}, coefficients)
    tp, stp = blend_total({n: per_pa[n] for n in both}, coefficients)
    z = float((tv - tp) / stp) if stp > 0 else np.nan
    if not np.isfinite(z):
        return z, f"{what} blend total unknown"
    text = f"{what} blend total {tv:.3g} vs integrated {tp:.3g} +- {stp:.2g} ({z:+.1f} sigma)"
    if abs(z) <= DEBLEND_NSIGMA:
        return z, f"{text}: flux conserved"
    return z, f"{text}: does not conserve the blend's flux"


def choose_deblend(
    per_pa: dict,
    joint: dict,
    coefficients=None,
    per_pa_conserved: bool = True,
    nsigma: float = DEBLEND_NSIGMA,
) -> DeblendChoice:
    """Whether a blend group's joint de-blending is a better estimate than the per-PA one.

    The joint solution is adopted only when

    1. it agrees with the per-PA integrated fluxes: ``|J - P| <= nsigma * sqrt(sJ^2 +
       sP^2)`` for every line both measure;
    2. it conserves the blend's flux: its total ``sum c_L J_L`` ([OIII]4960 counted with
       [OIII]5008) is within ``nsigma`` of the integrated total (:func:`blend_conservation`);
    3. it is at least as precise: its error is not larger than the per-PA error, for every
       line. This test is waived when the per-PA maps do not conserve the blend's flux
       (``per_pa_conserved`` False): the per-PA split then rests on overlapping images,
       and its errors leave that bias out.

    Otherwise the per-PA solution is kept. When both are right their difference scatters by
    less than ``sqrt(sJ^2 + sP^2)`` (they come from the same spectra), so at 3 sigma a good
    joint solution is almost never rejected (0.3% per Gaussian test) and gross failures are.

    Parameters
    ----------
    per_pa, joint : dict
        Line -> ``(flux, error)``, 1e-17 erg/s/cm^2: the per-PA integrated fluxes and the joint
        aperture fluxes (coverage-corrected).
    coefficients : dict, optional
        Line -> weight in the blend's total (default 1; :func:`blend_coefficients`).
    per_pa_conserved : bool
        Whether the per-PA maps conserve the blend's flux.
    nsigma : float

    Returns
    -------
    DeblendChoice
    """
    both = [n for n in joint if n in per_pa and np.all(np.isfinite(per_pa[n]))]
    if not both:
        return DeblendChoice("joint", "joint adopted: no per-PA integrated flux to compare with")
    failed, checks = [], {}
    for n in both:
        (j, sj), (p, sp) = joint[n], per_pa[n]
        scale = np.hypot(sj, sp)
        z = float((j - p) / scale) if scale > 0 else np.nan
        checks[n] = dict(joint=j, joint_error=sj, per_pa=p, per_pa_error=sp, z=z)
        if not abs(z) <= nsigma:
            failed.append(f"joint {n} {j:.3g} +- {sj:.2g} vs per-PA {p:.3g} +- {sp:.2g}")
        elif sj > sp and per_pa_conserved:
            failed.append(f"joint {n} error {sj:.2g} > per-PA {sp:.2g}")
    z, total = blend_conservation({n: joint[n] for n in both}, per_pa, coefficients or {}, "joint")
    checks["total"] = dict(z=z)
    if not abs(z) <= nsigma:
        failed.append(total)
    if failed:
        return DeblendChoice("stack", "per-PA kept: " + "; ".join(failed), checks)
    agree = ", ".join(f"{n} {checks[n]['z']:+.1f}" for n in [*both, "total"])
    why = "errors <= per-PA" if per_pa_conserved else "precision not compared"
    return DeblendChoice(
        "joint", f"joint adopted ({why}): within {nsigma:g} sigma ({agree})", checks
    )


def _aperture_columns(sm: StackedMap) -> dict:
    return dict(
        aperture_flux=sm.aperture_flux,
        aperture_error=sm.aperture_error,
        aperture_coverage=sm.aperture_coverage,
        aperture_light=sm.aperture_light,
    )


def _deblend_groups(
    extractions, alignments, reference, lines, accepted, stacks, fluxes, notes, settings, light
):
    """Per blend group: the joint multi-PA solution where :func:`choose_deblend` finds it the
    better estimate, else the per-PA stacks; the choice and the adopted maps' flux conservation
    go into the flux rows, the maps and the log."""
    rows = {r["line"]: r for r in fluxes}
    out = {}
    for group in blend_groups_of(extractions, lines):
        # A PA-grism enters when it has an accepted map of some member and none of its member
        # maps was rejected (all members share the same cleaned columns).
        keys = sorted({k for line in group for k in accepted[line]})
        keys = [
            k for k in keys if all(k in accepted[n] or n not in extractions[k].maps for n in group)
        ]
        label = "+".join(group)
        coefficients = blend_coefficients(group, [extractions[k] for k in keys])
        per_pa = {n: (rows[n]["flux_per_pa"], rows[n]["flux_per_pa_error"]) for n in group}
        stacked = {n: stacks[n].corrected_aperture() for n in group if n in stacks}
        z, conservation = blend_conservation(stacked, per_pa, coefficients)
        choice = None
        if settings is None:
            why = "per-PA kept: joint de-blending off"
        elif len(keys) < 2:
            why = f"per-PA kept: {len(keys)} accepted PA-grism(s), joint de-blending needs two"
        else:
            entries = [(f"{k[0]}-{k[1]}", extractions[k], alignments[k].transform) for k in keys]
            maps, out[group] = joint_deblend(
                list(group), entries, reference.footprint.shape, reference.footprint, settings
            )
            joint_fluxes = _joint_fluxes(maps, out[group], rows, reference, light)
            if joint_fluxes:
                conserved = not abs(z) > DEBLEND_NSIGMA
                choice = choose_deblend(per_pa, joint_fluxes, coefficients, conserved)
            else:
                choice = DeblendChoice("stack", "per-PA kept: the joint fit had nothing to fit")
            out[group]["choice"], why = choice, choice.reason
            diag = out[group]
            log.info(
                "%s: joint de-blending of %d PA-grisms, %d unknowns, chi2/dof %.2f, %.1f s; %s",
                label,
                len(entries),
                diag.get("n_unknowns", 0),
                diag["residual"].get("chi2_per_dof", np.nan),
                diag["time_s"],
                "; ".join(diag["notes"]) or "no notes",
            )
        if choice is not None and choice.adopted == "joint":
            _adopt_joint(out[group], rows, stacks, notes, label)
            z = choice.checks.get("total", {}).get("z", np.nan)
        text = f"{why}; {conservation}"
        for n in group:
            rows[n].update(blend_group=label, deblend_choice=text)
            if n in stacks:
                stacks[n].deblend, stacks[n].blend_z = text, z
        (log.info if not abs(z) > DEBLEND_NSIGMA else log.warning)("%s: %s", label, text)
    return out


def _joint_fluxes(maps, diag, rows, reference, light):
    """The joint maps' light shares and flux columns, and their coverage-corrected fluxes (line
    -> (flux, error)); None without maps."""
    if not maps:
        return None
    joint = {}
    for line, sm in maps.items():
        sm.method = "joint"
        sm.aperture_light = aperture_coverage(np.isfinite(sm.error), reference.footprint, light)[1]
        joint[line] = sm.corrected_aperture()
        rows[line].update(joint_flux=joint[line][0], joint_flux_error=joint[line][1])
    diag["maps"] = maps
    return joint


def _adopt_joint(diag, rows, stacks, notes, label):
    """The joint maps and fluxes replace the per-PA stacks of a group."""
    names, cov = diag["aperture_covariance"]
    sigma = dict(zip(names, np.sqrt(np.diag(cov)))) if names else {}
    for line, sm in diag["maps"].items():
        stacks[line] = sm
        notes.pop(line, None)
        if line in names:
            i = names.index(line)
            sm.covariance = {o: float(cov[i, j]) for j, o in enumerate(names) if o != line}
        correlation = {
            other: c / (sigma[line] * sigma[other])
            for other, c in sm.covariance.items()
            if sigma[line] > 0 and sigma[other] > 0
        }
        flux, error = sm.corrected_aperture()
        rows[line].update(
            method="joint",
            n_maps=len(sm.contributors),
            contributors=",".join(sm.contributors),
            flux=flux,
            flux_error=error,
            blend_group=label,
            correlation=",".join(f"{k}={v:+.3f}" for k, v in correlation.items()),
            **_aperture_columns(sm),
        )
