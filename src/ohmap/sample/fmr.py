"""The fundamental metallicity relation of Mannucci et al. (2011) and offsets from it (Wang et
al. 2017, Sect. 5, Fig. 9).

Stellar mass as log10(M*/Msun), SFR in Msun/yr (``log_sfr`` = log10 of it), metallicity as
12+log(O/H) in dex.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from astropy.table import Table

from .records import record_item

#: mu_alpha = log M* - alpha log SFR with alpha = 0.32 (Mannucci et al. 2010, 2011).
FMR_ALPHA = 0.32


#: mu_0.32 at which Mannucci et al. (2011) switch from the 2-D surface to the linear extension.
FMR_MU_BREAK = 9.5


#: Wang et al. (2017, Sect. 5) FMR offsets (median offset, median uncertainty), dex, for checks.
WANG2017_FMR_OFFSETS = {
    "all M08-based": (0.07, 0.14),
    "this work": (-0.07, 0.12),
    "Wuyts et al. 2012": (0.22, 0.11),
}


def _fmr_high(m, s):
    return 8.90 + 0.37 * m - 0.14 * s - 0.19 * m**2 + 0.12 * m * s - 0.054 * s**2


def _fmr_low(mu):
    return 8.93 + 0.51 * (mu - 10.0)


def fmr_metallicity(logm, log_sfr):
    """Metallicity predicted by the FMR of Mannucci et al. (2011), their Eq. 2.

    With ``mu = log M* - 0.32 log SFR``, ``m = log M* - 10`` and ``s = log SFR``:

    * ``mu >= 9.5``: ``12+log(O/H) = 8.90 + 0.37 m - 0.14 s - 0.19 m^2 + 0.12 m s - 0.054 s^2``
      (the surface of Mannucci et al. 2010);
    * ``mu < 9.5``: ``12+log(O/H) = 8.93 + 0.51 (mu - 10)`` (the low-mass extension).

    Metallicities are on the Maiolino et al. (2008) scale, masses and SFRs for a Chabrier
    (2003) IMF.

    The two branches do not join at ``mu = 9.5``: the linear branch gives 8.675 there, while the
    surface gives (surface minus linear, :func:`fmr_branch_gap`)

    ======= ====== =========
    log SFR log M* gap (dex)
    ======= ====== =========
    -1.0     9.18  -0.022
     0.0     9.50  -0.008
     0.5     9.66  -0.027
     1.0     9.82  -0.063
     1.5     9.98  -0.118
     2.0    10.14  -0.189
    ======= ====== =========

    so for the SFRs of the Wang et al. sample (about 2-85 Msun/yr, log SFR 0.3-1.9) the step is
    a few hundredths to ~0.2 dex. The surface never reaches the linear branch: the step is
    smallest, -0.0044 dex, at log SFR = -0.30.

    Parameters
    ----------
    logm : float or array_like
        log10(M*/Msun).
    log_sfr : float or array_like
        log10(SFR / (Msun/yr)).

    Returns
    -------
    float or numpy.ndarray
        12+log(O/H).
    """
    x, s = np.broadcast_arrays(np.asarray(logm, dtype=float), np.asarray(log_sfr, dtype=float))
    mu = x - FMR_ALPHA * s
    out = np.where(mu >= FMR_MU_BREAK, _fmr_high(x - 10.0, s), _fmr_low(mu))
    return out if out.ndim else float(out)


def fmr_branch_gap(log_sfr):
    """Step of the Mannucci et al. (2011) FMR at ``mu_0.32 = 9.5``: surface minus linear branch.

    Parameters
    ----------
    log_sfr : float or array_like
        log10(SFR / (Msun/yr)); the mass is the one that puts ``mu_0.32`` at 9.5.

    Returns
    -------
    float or numpy.ndarray
        The discontinuity in dex (negative: the surface lies below the linear extension).
    """
    s = np.asarray(log_sfr, dtype=float)
    m = FMR_MU_BREAK + FMR_ALPHA * s - 10.0
    out = _fmr_high(m, s) - _fmr_low(FMR_MU_BREAK)
    return out if out.ndim else float(out)


@dataclass(frozen=True)
class FMROffset:
    """Offset of a measured metallicity from the FMR prediction (measured minus predicted).

    Attributes
    ----------
    median, p16, p84 : float
        Median and 16th/84th percentiles of the Monte Carlo offsets (dex).
    deterministic : float
        Offset computed from the central values alone.
    n_samples : int
        Monte Carlo samples drawn.
    """

    median: float
    p16: float
    p84: float
    deterministic: float
    n_samples: int

    @property
    def err_lo(self) -> float:
        """``median - p16``."""
        return self.median - self.p16

    @property
    def err_hi(self) -> float:
        """``p84 - median``."""
        return self.p84 - self.median

    @property
    def uncertainty(self) -> float:
        """Half the 16th-84th percentile width: the symmetric 1-sigma uncertainty."""
        return 0.5 * (self.p84 - self.p16)

    def __getitem__(self, key: str):
        """Mapping-style access to the attributes (``result["median"]``)."""
        return record_item(self, key)


def _pair(err, name):
    """(lo, hi) from a scalar or a pair; None counts as 0."""
    if err is None:
        return 0.0, 0.0
    arr = np.asarray(err, dtype=float).ravel()
    if arr.size == 1:
        lo = hi = float(arr[0])
    elif arr.size == 2:
        lo, hi = float(arr[0]), float(arr[1])
    else:
        raise ValueError(f"{name}: give one error or a (lower, upper) pair")
    if not (lo >= 0 and hi >= 0):
        raise ValueError(f"{name} = {err!r}: errors must be >= 0")
    return lo, hi


def _split_normal(rng, centre, lo, hi, n):
    z = rng.standard_normal(n)
    return centre + np.where(z < 0, z * lo, z * hi)


def fmr_offset(
    oh12,
    oh12_err,
    logm,
    logm_err,
    sfr,
    sfr_err_lo=None,
    sfr_err_hi=None,
    n_samples: int = 20000,
    rng=None,
    sfr_dist: str = "lognormal",
    intrinsic_scatter: float = 0.0,
) -> FMROffset:
    """Offset from the Mannucci et al. (2011) FMR with Monte Carlo error propagation (Fig. 9).

    The offset is ``12+log(O/H)_measured - 12+log(O/H)_FMR(M*, SFR)``. Sign and usage were
    checked against the paper's Table 2: for its seven star-forming galaxies with a measured
    SFR (not a limit) the median of the deterministic offsets is -0.070 dex, the -0.07 that
    Wang et al. quote for "this work" (all seven lie on the low-mass branch, mu_0.32 < 9.5; with
    the six SFR limits taken as values the median of all 13 would be -0.043). The median
    uncertainty this function gives for those seven is 0.10 dex (0.11 taking the larger side),
    against the paper's 0.12: the paper's exact error recipe is not stated.

    With asymmetric input errors the Monte Carlo median is not the deterministic offset (a
    split normal's median is shifted towards its wider side): for those seven galaxies the
    medians of the two differ by ~0.02 dex. Both are returned.

    Each of metallicity, log M* and SFR is drawn independently: metallicity and log M* from
    split normals (the lower and upper 1-sigma errors on either side of the central value);
    SFR either log-normally (``"lognormal"``: a split normal in log SFR whose widths are
    ``log10(1 + err_hi/SFR)`` and ``-log10(1 - err_lo/SFR)``) or as a split normal in linear SFR
    truncated at zero (``"split-normal"``). The FMR prediction of every draw uses the branch its
    own mu_0.32 falls on, so draws near mu_0.32 = 9.5 feel the step between the branches (see
    :func:`fmr_metallicity`).

    An SFR limit has no errors: pass ``sfr_err_lo = sfr_err_hi = None`` (or 0) and the SFR is
    held at the limit. Then the offset is itself a limit: on the low-mass branch the FMR
    metallicity falls with SFR (d/dlogSFR = -0.32 x 0.51), so an SFR upper limit makes the
    offset an upper limit.

    Parameters
    ----------
    oh12 : float
        Measured 12+log(O/H).
    oh12_err : float or (float, float)
        Its 1-sigma error, or (lower, upper) errors.
    logm : float
        log10(M*/Msun).
    logm_err : float or (float, float)
        Its 1-sigma error, or (lower, upper).
    sfr : float
        SFR in Msun/yr (linear).
    sfr_err_lo, sfr_err_hi : float, optional
        Lower and upper 1-sigma errors of the SFR (Msun/yr). None for a limit.
    n_samples : int, optional
        Monte Carlo draws.
    rng : numpy.random.Generator or int or None, optional
        Random generator or seed.
    sfr_dist : {"lognormal", "split-normal"}, optional
        How SFR draws are made (see above).
    intrinsic_scatter : float, optional
        Gaussian scatter (dex) of the FMR itself, added to every draw; 0 (default) propagates
        the measurement errors alone, as the error bars of Fig. 9 do (the paper shows the
        FMR's scatter as a separate band).

    Returns
    -------
    FMROffset

    Raises
    ------
    ValueError
        For a non-positive SFR, negative errors, an unknown ``sfr_dist``, or a log-normal SFR
        whose lower error is not smaller than the SFR itself.
    """
    if not sfr > 0:
        raise ValueError(f"sfr = {sfr!r}: need a positive SFR in Msun/yr")
    if sfr_dist not in ("lognormal", "split-normal"):
        raise ValueError(f"sfr_dist = {sfr_dist!r}: use 'lognormal' or 'split-normal'")
    if n_samples < 1:
        raise ValueError("n_samples must be >= 1")
    rng = np.random.default_rng(rng)
    o_lo, o_hi = _pair(oh12_err, "oh12_err")
    m_lo, m_hi = _pair(logm_err, "logm_err")
    s_lo, s_hi = _pair(
        (0.0 if sfr_err_lo is None else sfr_err_lo, 0.0 if sfr_err_hi is None else sfr_err_hi),
        "sfr errors",
    )
    n = int(n_samples)
    oh = _split_normal(rng, float(oh12), o_lo, o_hi, n)
    lm = _split_normal(rng, float(logm), m_lo, m_hi, n)
    if sfr_dist == "lognormal":
        if s_lo >= sfr:
            raise ValueError(
                f"sfr = {sfr}, lower error {s_lo}: a log-normal cannot hold a lower "
                "error as large as the SFR; use sfr_dist='split-normal'"
            )
        ls_hi = math.log10(1.0 + s_hi / sfr)
        ls_lo = -math.log10(1.0 - s_lo / sfr)
        ls = _split_normal(rng, math.log10(sfr), ls_lo, ls_hi, n)
    else:
        lin = _split_normal(rng, float(sfr), s_lo, s_hi, n)
        for _ in range(100):
            bad = lin <= 0
            if not bad.any():
                break
            lin[bad] = _split_normal(rng, float(sfr), s_lo, s_hi, int(bad.sum()))
        else:
            lin[lin <= 0] = np.nan
        ls = np.log10(lin)
    pred = np.asarray(fmr_metallicity(lm, ls), dtype=float)
    if intrinsic_scatter:
        pred = pred + rng.normal(0.0, float(intrinsic_scatter), n)
    off = oh - pred
    p16, med, p84 = np.nanpercentile(off, [16.0, 50.0, 84.0])
    det = float(oh12) - fmr_metallicity(float(logm), math.log10(sfr))
    return FMROffset(
        median=float(med), p16=float(p16), p84=float(p84), deterministic=float(det), n_samples=n
    )


def median_offset(offsets, errors) -> tuple[float, float]:
    """Median offset and median uncertainty of a subsample (Wang et al. 2017, Sect. 5, Fig. 9).

    Parameters
    ----------
    offsets : array_like
        FMR offsets (dex), one per galaxy.
    errors : array_like
        Their 1-sigma uncertainties: shape (N,), or (2, N) lower and upper errors, whose mean
        is used per galaxy.

    Returns
    -------
    (float, float)
        Median offset and median uncertainty, ignoring NaN entries (NaN when none is left).
    """
    off = np.asarray(offsets, dtype=float).ravel()
    err = np.asarray(errors, dtype=float)
    if err.ndim == 2 and err.shape[0] == 2 and err.shape[1] == off.size:
        err = err.mean(axis=0)
    err = np.broadcast_to(err.ravel() if err.size != 1 else err.reshape(()), off.shape)
    with np.errstate(all="ignore"):
        mo = float(np.nanmedian(off)) if np.isfinite(off).any() else math.nan
        me = float(np.nanmedian(err)) if np.isfinite(err).any() else math.nan
    return mo, me


# ----------------------------------------------------------------------------------------------
# Offsets of a sample and of the literature (Figure 9)
# ----------------------------------------------------------------------------------------------

log = logging.getLogger(__name__)

FMR_OFFSET_COLUMNS = (
    "galaxy_id",
    "subsample",
    "mu032",
    "fmr_offset",
    "fmr_offset_p16",
    "fmr_offset_p84",
    "fmr_offset_deterministic",
)


def _text(value) -> str:
    return "" if value is np.ma.masked else str(value)


def fmr_offset_table(table, literature, n_samples: int = 10000, seed: int = 20170207) -> Table:
    """FMR offsets of this work's star-forming galaxies and of the literature's measurements.

    Parameters
    ----------
    table : astropy.table.Table
        The sample table (Table 2: ``oh12_p16/50/84``, ``log_mstar`` and its errors, ``sfr_p16/50/84``,
        limits and ``agn_candidate``); AGN candidates and galaxies with a metallicity or SFR limit
        are left out.
    literature : astropy.table.Table
        :func:`ohmap.sample.literature.read_literature_mzr`; rows of galaxies in ``table``, and
        rows without a measured SFR, are left out.
    n_samples : int
        Monte Carlo draws per galaxy (:func:`fmr_offset`).
    seed : int
        Seed of the draws (one stream, this work's galaxies first, then the literature's).

    Returns
    -------
    astropy.table.Table
        One row per galaxy (:data:`FMR_OFFSET_COLUMNS`); ``meta["medians"]``: per subsample the
        median offset and median uncertainty (:func:`median_offset`), dex.
    """
    rng = np.random.default_rng(int(seed))
    n = int(n_samples)
    rows = []
    for r in table:
        if r["agn_candidate"] or _text(r["oh12_limit"]) or _text(r["sfr_limit"]):
            log.info(
                "%s left out: %s",
                r["galaxy_id"],
                "AGN candidate" if r["agn_candidate"] else "a limit",
            )
            continue
        off = fmr_offset(
            r["oh12_p50"],
            0.5 * (r["oh12_p84"] - r["oh12_p16"]),
            r["log_mstar"],
            0.5 * (r["log_mstar_err_lo"] + r["log_mstar_err_hi"]),
            r["sfr_p50"],
            r["sfr_p50"] - r["sfr_p16"],
            r["sfr_p84"] - r["sfr_p50"],
            n,
            rng,
        )
        rows.append(
            dict(
                galaxy_id=r["galaxy_id"],
                subsample="this work",
                mu032=r["log_mstar"] - 0.32 * np.log10(r["sfr_p50"]),
                fmr_offset=off["median"],
                fmr_offset_p16=off["p16"],
                fmr_offset_p84=off["p84"],
                fmr_offset_deterministic=off["deterministic"],
            )
        )
    for r in literature:
        # Only measured SFRs (a limit has no errors and would bias the median offset).
        if str(r["id"]) in set(table["galaxy_id"]) or any(
            r[c] is np.ma.masked for c in ("sfr", "sfr_err_lo", "sfr_err_hi")
        ):
            continue
        if "sfr_limit" in literature.colnames and _text(r["sfr_limit"]):
            continue
        off = fmr_offset(
            r["oh12"],
            0.5 * (r["oh12_err_lo"] + r["oh12_err_hi"]),
            r["log_mstar"],
            0.5 * (r["log_mstar_err_lo"] + r["log_mstar_err_hi"]),
            r["sfr"],
            r["sfr_err_lo"],
            r["sfr_err_hi"],
            n,
            rng,
        )
        rows.append(
            dict(
                galaxy_id=str(r["id"]),
                subsample=str(r["reference"]),
                mu032=float(r["log_mstar"]) - 0.32 * np.log10(float(r["sfr"])),
                fmr_offset=off["median"],
                fmr_offset_p16=off["p16"],
                fmr_offset_p84=off["p84"],
                fmr_offset_deterministic=off["deterministic"],
            )
        )
    out = (
        Table(rows=rows)
        if rows
        else Table(
            names=list(FMR_OFFSET_COLUMNS), dtype=[str, str, float, float, float, float, float]
        )
    )
    summary = {}
    for name in sorted(set(out["subsample"])):
        sub = out[out["subsample"] == name]
        med = median_offset(
            np.asarray(sub["fmr_offset"]),
            0.5 * np.asarray(sub["fmr_offset_p84"] - sub["fmr_offset_p16"]),
        )
        summary[name] = med
        log.info(
            "%s: %d galaxies, median offset %+.3f, median uncertainty %.3f dex",
            name,
            len(sub),
            med[0],
            med[1],
        )
    out.meta.update(
        description="12+log(O/H) minus the Mannucci et al. (2011) FMR at each galaxy's M* and SFR (Monte "
        "Carlo over M*, SFR and metallicity: median and 16/84th percentiles, dex).",
        medians={
            k: {"median_offset": float(v[0]), "median_uncertainty": float(v[1])}
            for k, v in summary.items()
        },
    )
    return out
