"""Joint multi-PA forward-model de-blending of overlapping emission lines.

In slitless data an extended source appears as an image of itself at each line's column, so the
images of H-beta, [OIII]4960 and [OIII]5008 (or H-alpha+[NII] and [SII]) overlap in the 2D
spectrum once the galaxy is larger than their separation. In one PA every spectrum row is a 1D
sum of shifted copies of the line maps, which is degenerate for an extended source (the
per-PA contour method of :mod:`ohmap.linemaps.extract` resolves it with the direct image's morphology,
and is biased where the line maps do not follow it). Different PAs and grisms disperse the
galaxy along different directions and by different amounts, which breaks the degeneracy.

:func:`joint_deblend` therefore fits the line maps on the reference grid directly to the
cleaned 2D spectra of every PA-grism at once:

* **Unknowns**: each free line's map on the reference grid (1e-17 erg/s/cm^2 per pixel) inside
  a support region: the reference footprint joined with every PA-grism's footprint carried to
  the reference grid, grown by ``support_grow_pixels``. The extraction footprints are the
  direct-image light grown by 0.3 arcsec already; the extra growth takes in the misregistration
  left by the alignment (a few tenths of a pixel and about a degree, i.e. about a pixel at the
  edge of a large galaxy) and the interpolation kernel's reach, so that no modelled line flux
  falls outside the unknowns. Emission outside the support is assumed zero.
* **Model** of the cleaned spectrum of PA-grism ``p`` in the group's column range (the columns
  :func:`ohmap.linemaps.extract.extract_line_maps` cleaned for these lines)::

      D_p = sum_L c_L * B_{p,L} f_{free(L)}

  where ``B_{p,L}`` resamples the reference-grid map into PA ``p``'s frame with the *inverse*
  of the alignment transform (Lanczos-3, the kernel the stack uses) on a grid whose sub-pixel
  phase puts frame ``x = 0`` at line ``L``'s fractional column, ``c_L = 1`` for a free line and
  ``1 / 2.98`` for [OIII]4960, tied to [OIII]5008 (:data:`ohmap.lines.OIII_5008_TO_4960`).
  ``B_{p,L}`` is the counterpart of the stack's operator (which resamples a PA map onto the
  reference grid with :func:`ohmap.resample.resampling_matrix` and the forward transform):
  both interpolate the image they read at the point the other frame's pixel maps to, so a
  map that is smooth on the pixel scale goes through ``B`` and then the stack unchanged.
* **Fit**: weighted least squares, weights ``1 / cleaned_error**2`` (pixels with infinite or
  zero error are left out), with a weak zero-mean Gaussian prior (ridge, Tikhonov) of width
  ``prior_sigma`` on every unknown pixel::

      (A^T W A + I / prior_sigma**2) f = A^T W d

  ``prior_sigma = prior_scale`` x the 99.5th percentile of ``|d|`` over the modelled pixels:
  a generous bound on a pixel's line flux (a blended data pixel holds the sum of the lines
  that land on it). Where the data constrain a pixel (every pixel of a galaxy seen at two
  well-separated PAs), the prior's pull is ``(error / prior_sigma)**2``, well below 1 per cent
  for a pixel whose error is below a tenth of the peak flux, and negligible against the noise.
  Where they do not (one PA-grism, an extended galaxy, so that a row cannot tell which line
  its flux belongs to), the prior picks the smallest-norm split and the posterior error of
  those pixels grows towards ``prior_sigma``: the degeneracy is visible in the error map and in
  the diagnostics (``inflation``, ``prior_dominated``) instead of being hidden by a morphology
  assumption. The system is solved by a sparse LU factorisation (``scipy.sparse.linalg.splu``).
* **Errors**: the diagonal of the posterior covariance ``(A^T W A + I / prior_sigma**2)^-1``,
  exactly (dense Cholesky inverse) when there are at most ``exact_max_unknowns`` unknowns,
  else by Rao-Blackwellised Monte Carlo (Siden, Lindgren, Bolin & Villani 2018, "simple RBMC"):
  posterior samples ``x = Q^-1 (A^T W^1/2 e + eta / prior_sigma)`` cost one solve each with the
  factorisation, and ``var_i = 1 / Q_ii + mean((sum_{j != i} Q_ij x_j / Q_ii)**2)``, which is
  unbiased and much less noisy than the samples' own variance. The aperture fluxes' variances
  are exact in both cases (one solve with the aperture vector).

Pixels where the data fix a line's flux only together with another line's are reported by the
variance *inflation* ``sqrt(Var_i * Q_ii)``: 1 for a pixel no other unknown is confused with,
large where the blend is degenerate.

Limits. In Fourier terms PA ``p`` measures ``H(k) + O(k) exp(-i k.s_p)`` (``s_p``: the lines'
separation vector in the reference frame), so however many PAs there are, the split of the
*large-scale* flux between the lines (``k -> 0``, the integrated fluxes above all) is fixed only
by the finite support (the band of width ``|s_p|`` at its edge where one line's image has no
partner) and by the lines' different small-scale structure. The aperture fluxes of the lines
are therefore much less precise than their sum (which is the group total) and strongly
anti-correlated (``aperture_covariance``); their errors say so honestly, where the per-PA
contour method, which imposes the direct image's morphology, reports errors several times
smaller and is biased by several of them for extended galaxies. Lines outside the group whose
images reach the modelled columns (e.g. H-gamma for a galaxy wider than its ~60-column
separation from H-beta) are not modelled: they are listed in ``unmodelled_overlaps`` and can be
added to the group as further free lines.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import numpy as np
from scipy import linalg, sparse
from scipy.ndimage import binary_dilation
from scipy.sparse.linalg import splu

from ohmap.lines import TIED_LINES
from ohmap.resample import KERNELS, FrameTransform, resampling_matrix

from .maps import StackedMap, aperture_coverage
from .settings import JointDeblendSettings

log = logging.getLogger(__name__)


def inverse_transform(transform: FrameTransform) -> FrameTransform:
    """The transform taking the target frame of ``transform`` back to its source frame.

    ``transform`` places source point ``p`` at ``rot(d) (p - s)`` in the target frame, so the
    target point ``q`` comes from ``rot(-d) q + s = rot(-d) (q - s')`` with ``s' = -rot(d) s``.

    Parameters
    ----------
    transform : FrameTransform
        PA map frame -> reference frame (rotation in degrees, shifts in pixels).

    Returns
    -------
    FrameTransform
        Reference frame -> PA map frame.
    """
    d = np.radians(transform.rotation_deg)
    c, s = np.cos(d), np.sin(d)
    sx, sy = transform.shift_x, transform.shift_y
    return FrameTransform(-transform.rotation_deg, -(c * sx - s * sy), -(s * sx + c * sy))


def group_members(group, columns) -> list[tuple[str, str, float]]:
    """Lines of ``group`` on one spectrum: ``(line, free line whose map it shows, coefficient)``.

    A tied line ([OIII]4960) is included when its parent is a free line of the group, with
    coefficient ``1 / ratio``; free lines have coefficient 1.
    """
    out = [(name, name, 1.0) for name in group if name in columns]
    for tied, (parent, ratio) in TIED_LINES.items():
        if parent in group and tied in columns and tied not in group:
            out.append((tied, parent, 1.0 / ratio))
    return out


def group_column_range(columns_used, ny: int, nx: int) -> tuple[int, int]:
    """Spectrum columns ``[lo, hi)`` that the extraction cleaned for lines at ``columns_used``
    (the same range :func:`ohmap.linemaps.extract.extract_line_maps` uses: every line's map cut-out and a
    column of margin)."""
    centre = (ny - 1) / 2.0
    lo = max(int(np.floor(min(columns_used) - centre)) - 1, 0)
    hi = min(int(np.ceil(max(columns_used) + centre)) + 2, nx)
    return lo, hi


def forward_operator(extraction, transform: FrameTransform, members, grid_shape, kernel="lanczos3"):
    """Sparse operators taking reference-grid maps to one PA-grism's 2D spectrum.

    Parameters
    ----------
    extraction : Extraction
        Supplies the spectrum shape and the lines' fractional columns.
    transform : FrameTransform
        This PA map frame -> reference frame (as for the stack).
    members : list of tuple
        From :func:`group_members`.
    grid_shape : tuple of int
        Shape of the (padded) reference grid the maps live on; its pixel ``(i, k)`` is at
        ``x = k - (m-1)/2``, ``y = i - (n-1)/2`` (no sub-pixel phase).
    kernel : str
        Interpolation kernel.

    Returns
    -------
    lo, hi : int
        Spectrum columns ``[lo, hi)`` modelled.
    operators : list of (str, float, scipy.sparse.csr_matrix)
        Per member: the free line, its coefficient and the ``(ny * (hi - lo), prod(grid_shape))``
        matrix ``B`` such that the line's image on ``spectrum[:, lo:hi]`` is ``B @ map.ravel()``
        (line flux per pixel, 1e-17 erg/s/cm^2).
    """
    ny, nx = extraction.cleaned.shape
    lo, hi = group_column_range([extraction.columns[m] for m, _, _ in members], ny, nx)
    width = hi - lo
    inverse = inverse_transform(transform)
    operators = []
    for name, parent, coef in members:
        # Spectrum column j of this grid is at frame x = j - column: the phase that puts it there.
        phase = lo - extraction.columns[name] + (width - 1) / 2.0
        b = resampling_matrix(
            (ny, width), grid_shape, inverse, in_x_phase=0.0, out_x_phase=phase, kernel=kernel
        )
        operators.append((parent, coef, b))
    return lo, hi, operators


def _support(footprint, entries, grow: int, pad: int, kernel: str) -> np.ndarray:
    """Support on the padded reference grid: footprints of the reference and of every PA-grism
    carried to the reference grid, grown by ``grow`` pixels."""
    n, m = footprint.shape
    padded = (n + 2 * pad, m + 2 * pad)
    mask = np.zeros(padded, dtype=bool)
    mask[pad : pad + n, pad : pad + m] = footprint
    for _, ex, transform in entries:
        fp = np.asarray(ex.footprint, dtype=float)
        r = resampling_matrix(padded, fp.shape, transform, kernel="linear")
        mask |= (r @ fp.ravel()).reshape(padded) > 0.5
    if grow > 0:
        mask = binary_dilation(mask, iterations=grow)
    # The kernel must never reach past the padded grid, where resampling_matrix would
    # renormalise the stencil.
    edge = KERNELS[kernel][0] + 1
    mask[:edge] = mask[-edge:] = False
    mask[:, :edge] = mask[:, -edge:] = False
    return mask


def joint_deblend(
    group, entries, out_shape, footprint, settings: JointDeblendSettings | None = None
):
    """Joint forward-model de-blending of a group of lines over all PA-grisms.

    Parameters
    ----------
    group : list of str
        Free lines of one blend group, e.g. ``["Hb", "OIII5008"]`` or ``["Ha", "SII"]``;
        [OIII]4960 is tied to [OIII]5008 (ratio 2.98) wherever it is on a spectrum.
    entries : list of tuple
        ``(label, Extraction, FrameTransform)`` for every accepted PA-grism that covers at least
        one line of the group; the transform takes that PA's map frame to the reference grid
        (``AlignmentResult.transform``). Extractions need ``cleaned``, ``cleaned_error`` (1e-17
        erg/s/cm^2 per pixel, ``inf`` without data), ``columns`` and ``footprint``.
    out_shape : tuple of int
        Shape of the reference grid (no sub-pixel phase).
    footprint : ndarray of bool
        Reference-grid aperture (the reference footprint): the support is grown from it, and
        the aperture fluxes are summed over it.
    settings : JointDeblendSettings, optional

    Returns
    -------
    maps : dict
        Free line -> :class:`ohmap.linemaps.maps.StackedMap` on the reference grid: ``flux`` (1e-17
        erg/s/cm^2 per pixel, 0 outside the support), ``error`` (posterior 1-sigma, ``inf``
        outside the support or where no data constrain the pixel), ``n_maps`` (number of
        PA-grisms whose valid data touch the pixel through this line), ``contributors``,
        ``aperture_flux`` and ``aperture_error`` (sum over the pixels of ``footprint`` that the
        data constrain and its exact error, including the covariances between pixels; NaN when
        none is), ``aperture_coverage`` (the fraction of ``footprint`` those pixels make up).
        Lines of ``group`` that no entry covers are absent.
    diagnostics : dict
        ``residual`` (``chi2``, ``n_data``, ``dof``, ``chi2_per_dof`` of the fit to the 2D data,
        with ``dof = n_data - trace(hat matrix)``; ``per_entry``: label -> chi2 per data pixel),
        ``prior_sigma`` (1e-17 erg/s/cm^2 per pixel), ``variance_method``, ``n_unknowns``,
        ``support`` (bool map on ``out_shape``), ``unmodelled_overlaps`` (PA-grism, line) pairs
        where a line outside the group lands in the modelled columns, ``time_s``, ``notes``,
        ``ridge_lambda`` (``1 / prior_sigma**2``), ``aperture_covariance`` (line names and the
        covariance matrix of their aperture fluxes, (1e-17 erg/s/cm^2)^2), and ``lines``: per
        line ``n_entries``, ``inflation`` map (``sqrt(Var_i * Q_ii)``, NaN outside the solved pixels),
        ``degenerate_fraction`` (share of aperture pixels with inflation above
        ``inflation_limit``), ``prior_dominated`` map and ``prior_dominated_fraction`` (error
        above ``prior_dominated_ratio * prior_sigma``), and ``flux_outside_grid`` (absolute
        flux solved on support pixels beyond ``out_shape``, which the maps leave out).
    """
    settings = settings or JointDeblendSettings()
    t0 = time.perf_counter()
    footprint = np.asarray(footprint, dtype=bool)
    n_out, m_out = out_shape
    pad = settings.support_grow_pixels + KERNELS[settings.kernel][0] + 2
    grid = (n_out + 2 * pad, m_out + 2 * pad)
    notes = []

    usable = []
    for label, ex, transform in entries:
        members = group_members(group, ex.columns)
        if members:
            usable.append((label, ex, transform, members))
        else:
            notes.append(f"{label}: no line of {','.join(group)} on the spectrum")
    support = _support(
        footprint,
        [(lab, ex, t) for lab, ex, t, _ in usable],
        settings.support_grow_pixels,
        pad,
        settings.kernel,
    )
    inner = (slice(pad, pad + n_out), slice(pad, pad + m_out))

    present = [
        name for name in group if any(parent == name for *_, mem in usable for _, parent, _ in mem)
    ]
    unknowns = _Unknowns(present, support, np.flatnonzero(support.ravel()), grid, inner)
    n_all = unknowns.n_all
    systems, overlaps = _data_systems(usable, unknowns, settings.kernel)
    if not systems or n_all == 0:
        return {}, dict(
            notes=notes + ["nothing to fit"], residual={}, time_s=time.perf_counter() - t0
        )

    # Unknowns that no valid data pixel touches are left out (their error is infinite).
    data_weight = np.zeros(n_all)
    for s in systems:
        data_weight += np.asarray(s["a"].multiply(s["a"]).T @ s["w"]).ravel()
    keep = np.flatnonzero(data_weight > 0)
    if keep.size == 0:
        return {}, dict(
            notes=notes + ["no valid data pixel on the modelled columns"],
            residual={},
            time_s=time.perf_counter() - t0,
        )
    for s in systems:
        s["a"] = s["a"][:, keep].tocsr()
    unknowns.keep = keep

    prior_sigma = _prior_sigma(systems, settings.prior_scale)
    solution = _solve(systems, keep.size, prior_sigma, settings)
    # Before the maps: building them sorts the operators' indices in place, and A x summed in
    # the new order differs in the last bit.
    residual = _residual(systems, solution)
    maps, per_line, ap_vectors = _line_maps(
        unknowns, systems, solution, footprint, prior_sigma, settings, notes
    )
    for name in group:
        if name not in present:
            notes.append(f"{name}: on no PA-grism's spectrum")
    # The lines' aperture fluxes are anti-correlated where their split is uncertain: line
    # ratios need the covariance, not just the two errors.
    names = list(ap_vectors)
    cov = np.array([[float(ap_vectors[a][0] @ ap_vectors[b][1]) for b in names] for a in names])
    diagnostics = dict(
        residual=residual,
        aperture_covariance=(names, cov),
        prior_sigma=prior_sigma,
        ridge_lambda=solution.lam,
        variance_method=solution.method,
        n_unknowns=keep.size,
        support=support[inner],
        unmodelled_overlaps=sorted(set(overlaps)),
        lines=per_line,
        notes=notes,
        time_s=time.perf_counter() - t0,
    )
    for label, other in diagnostics["unmodelled_overlaps"]:
        log.info(
            "%s: line %s lands on the columns modelled for %s and is not modelled",
            label,
            other,
            ",".join(group),
        )
    return maps, diagnostics


@dataclass
class _Unknowns:
    """The unknowns: each line's map on the support of the padded reference grid, line after
    line; ``keep`` (set once known) indexes those that some valid data pixel constrains."""

    lines: list
    support: np.ndarray
    index: np.ndarray
    grid: tuple
    inner: tuple
    keep: np.ndarray | None = None

    @property
    def n_all(self) -> int:
        return len(self.lines) * self.index.size


def _data_systems(usable, unknowns: _Unknowns, kernel):
    """Per PA-grism: the data vector, weights and the operator on [line blocks of the support];
    and the (PA-grism, line) pairs where a line outside the group lands on the modelled columns."""
    present, sup_idx, grid = unknowns.lines, unknowns.index, unknowns.grid
    n_sup = sup_idx.size
    block = {name: i for i, name in enumerate(present)}
    systems = []
    overlaps = []
    for label, ex, transform, members in usable:
        lo, hi, ops = forward_operator(ex, transform, members, grid, kernel)
        ny = ex.cleaned.shape[0]
        blocks = [None] * len(present)
        for parent, coef, b in ops:
            piece = coef * b[:, sup_idx]
            j = block[parent]
            blocks[j] = piece if blocks[j] is None else blocks[j] + piece
        blocks = [sparse.csr_matrix((ny * (hi - lo), n_sup)) if b is None else b for b in blocks]
        a = sparse.hstack(blocks, format="csr")
        d = ex.cleaned[:, lo:hi].ravel()
        e = ex.cleaned_error[:, lo:hi].ravel()
        touched = np.diff(a.indptr) > 0
        rows = np.flatnonzero(touched & np.isfinite(e) & (e > 0) & np.isfinite(d))
        a = a[rows]
        systems.append(dict(label=label, a=a, d=d[rows], w=1.0 / e[rows] ** 2))
        # Other lines whose images fall on the modelled columns contaminate the fit.
        cols_touched = np.unique(np.flatnonzero(touched) % (hi - lo)) + lo
        for other, col in ex.columns.items():
            if any(other == m for m, _, _ in members):
                continue
            if _image_reaches(ex.footprint, col, cols_touched):
                overlaps.append((label, other))
    return systems, overlaps


def _prior_sigma(systems, prior_scale: float) -> float:
    """Width of the ridge prior: ``prior_scale`` x the 99.5th percentile of the absolute data
    (the median error where the data are all zero)."""
    data_abs = np.concatenate([np.abs(s["d"]) for s in systems])
    peak = float(np.percentile(data_abs, 99.5)) if data_abs.size else 0.0
    if not peak > 0:
        peak = float(np.median(np.concatenate([1.0 / np.sqrt(s["w"]) for s in systems])))
    return prior_scale * peak


@dataclass
class _Solution:
    """The ridge-regularised least-squares solution and its posterior variances."""

    x: np.ndarray
    var: np.ndarray
    inflation: np.ndarray
    lu: object
    lam: float
    method: str


def _solve(systems, n: int, prior_sigma: float, settings: JointDeblendSettings) -> _Solution:
    """Solve ``(A^T W A + I / prior_sigma**2) x = A^T W d`` and the posterior variances."""
    lam = 1.0 / prior_sigma**2
    q = sparse.identity(n, format="csc") * lam
    rhs = np.zeros(n)
    for s in systems:
        aw = s["a"].T.multiply(s["w"][None, :]).tocsr()
        q = q + (aw @ s["a"]).tocsc()
        rhs += aw @ s["d"]
    q = q.tocsc()
    lu = splu(
        q, permc_spec="MMD_AT_PLUS_A", diag_pivot_thresh=0.0, options=dict(SymmetricMode=True)
    )
    x = lu.solve(rhs)
    q_diag = q.diagonal()

    rng = np.random.default_rng(settings.seed)
    if n <= settings.exact_max_unknowns:
        method = "exact (dense Cholesky inverse)"
        chol = linalg.cholesky(q.toarray(), lower=True, check_finite=False)
        linv, info = linalg.lapack.dtrtri(np.asfortranarray(chol), lower=1)
        if info != 0:
            raise np.linalg.LinAlgError(f"dtrtri failed ({info})")
        var = np.einsum("ij,ij->j", linv, linv)
    else:
        k = settings.variance_samples
        method = f"Rao-Blackwellised Monte Carlo ({k} samples)"
        z = rng.normal(size=(n, k)) * np.sqrt(lam)
        for s in systems:
            eps = rng.normal(size=(s["d"].size, k))
            z += s["a"].T @ (eps * np.sqrt(s["w"])[:, None])
        samples = lu.solve(z)
        cond = (q @ samples - q_diag[:, None] * samples) / q_diag[:, None]
        var = 1.0 / q_diag + np.mean(cond**2, axis=1)
    return _Solution(x, var, np.sqrt(var * q_diag), lu, lam, method)


def _residual(systems, solution: _Solution) -> dict:
    """chi2 of the fit and dof = n_data - trace(Q^-1 A^T W A) = n_data - (n - lam * trace(Q^-1))."""
    chi2, n_data, per_entry = 0.0, 0, {}
    for s in systems:
        r = s["d"] - s["a"] @ solution.x
        c = float(np.sum(s["w"] * r**2))
        chi2 += c
        n_data += r.size
        per_entry[s["label"]] = c / max(r.size, 1)
    dof = n_data - (solution.x.size - solution.lam * float(np.sum(solution.var)))
    return dict(
        chi2=chi2,
        n_data=n_data,
        dof=dof,
        chi2_per_dof=chi2 / dof if dof > 0 else np.nan,
        per_entry=per_entry,
    )


def _line_maps(unknowns: _Unknowns, systems, solution, footprint, prior_sigma, settings, notes):
    """The solution back on the reference grid: a StackedMap, the diagnostics and the aperture
    vectors (with their solves) of every line."""
    present, support, sup_idx = unknowns.lines, unknowns.support, unknowns.index
    grid, inner, keep = unknowns.grid, unknowns.inner, unknowns.keep
    n_sup = sup_idx.size
    n_all = len(present) * n_sup
    full_x = np.zeros(n_all)
    full_var = np.full(n_all, np.inf)
    full_infl = np.full(n_all, np.nan)
    full_x[keep] = solution.x
    full_var[keep] = solution.var
    full_infl[keep] = solution.inflation
    maps, per_line, ap_vectors = {}, {}, {}
    for j, name in enumerate(present):
        sl = slice(j * n_sup, (j + 1) * n_sup)

        def to_grid(values, fill):
            g = np.full(grid[0] * grid[1], fill, dtype=float)
            g[sup_idx] = values[sl]
            return g.reshape(grid)

        flux = to_grid(full_x, 0.0)
        err = np.sqrt(to_grid(full_var, np.inf))
        n_maps = np.zeros(grid[0] * grid[1], dtype=int)
        contributors = []
        for s in systems:
            cover = np.zeros(n_all)
            cover[keep] = np.asarray(abs(s["a"]).T @ np.ones(s["d"].size)).ravel()
            hit = cover[sl] > 0
            if hit.any():
                contributors.append(s["label"])
            n_maps[sup_idx] += hit
        n_maps = n_maps.reshape(grid)
        outside = support.copy()
        outside[inner] = False
        lost = float(np.abs(flux[outside]).sum())
        flux_c, err_c, n_c = flux[inner], err[inner], n_maps[inner]
        sm = StackedMap(name, flux_c, err_c, n_c, contributors)
        # Aperture flux and its exact variance a^T Q^-1 a (one solve).
        ap = np.zeros(grid, dtype=bool)
        ap[inner] = footprint
        ap_full = np.zeros(n_all)
        ap_full[sl] = ap.ravel()[sup_idx]
        # As for the stacks: summed over the aperture pixels the data constrain (the kept
        # unknowns), the others (error inf, flux 0) left out, with their share recorded.
        covered = footprint & np.isfinite(err_c)
        sm.aperture_coverage = aperture_coverage(covered, footprint)[0]
        if covered.any():
            a_vec = ap_full[keep]
            ap_vectors[name] = (a_vec, solution.lu.solve(a_vec))
            sm.aperture_flux = float(a_vec @ solution.x)
            sm.aperture_error = float(np.sqrt(a_vec @ ap_vectors[name][1]))
        infl = to_grid(full_infl, np.nan)[inner]
        prior_dom = np.isfinite(err_c) & (err_c > settings.prior_dominated_ratio * prior_sigma)
        fp_ok = footprint & np.isfinite(err_c)
        per_line[name] = dict(
            n_entries=len(contributors),
            inflation=infl,
            degenerate_fraction=(
                float(np.mean(infl[fp_ok] > settings.inflation_limit)) if fp_ok.any() else np.nan
            ),
            prior_dominated=prior_dom,
            prior_dominated_fraction=float(np.mean(prior_dom[fp_ok])) if fp_ok.any() else np.nan,
            flux_outside_grid=lost,
        )
        if len(contributors) < 2:
            notes.append(
                f"{name}: constrained by {len(contributors)} PA-grism only; degenerate pixels "
                f"are held by the prior (sigma {prior_sigma:.3g}) and carry errors near it"
            )
        maps[name] = sm
    return maps, per_line, ap_vectors


def _image_reaches(footprint, column, columns_touched) -> bool:
    """Whether the footprint's image centred at ``column`` covers any of ``columns_touched``."""
    cols = np.flatnonzero(np.asarray(footprint).any(axis=0))
    if cols.size == 0:
        return False
    centre = (footprint.shape[1] - 1) / 2.0
    lo, hi = column + cols.min() - centre, column + cols.max() - centre
    return bool(np.any((columns_touched >= lo - 1) & (columns_touched <= hi + 1)))
