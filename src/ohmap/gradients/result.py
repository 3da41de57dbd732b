"""A metallicity gradient and the table row it is written as (both methods)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .linear_fit import LinearFit


@dataclass
class GradientResult:
    """A metallicity gradient of one galaxy by one method.

    Attributes
    ----------
    method : str
        ``"individual_spaxel"`` or ``"radial_annulus"``.
    slope, slope_err : float
        Gradient (posterior median) and its 1-sigma error, dex/kpc.
    slope_p16, slope_p50, slope_p84 : float
        Percentiles of the gradient, dex/kpc.
    intercept, intercept_err : float
        12+log(O/H) at r = 0 and its error, dex.
    sigma_int, sigma_int_p16, sigma_int_p84 : float
        Intrinsic scatter about the line (median, percentiles), dex.
    sigma_int_fixed : float or None
        Value ``sigma_int`` was fixed to, or None when fitted.
    n : int
        Spaxels or annuli used.
    r_min_kpc, r_max_kpc : float
        Radius range of the points used.
    flag : bool
    reason : str
        See :class:`~ohmap.gradients.linear_fit.LinearFit`; ``"no_annuli"`` etc. added by the callers.
    fit : LinearFit
    """

    method: str
    slope: float
    slope_err: float
    slope_p16: float
    slope_p50: float
    slope_p84: float
    intercept: float
    intercept_err: float
    sigma_int: float
    sigma_int_p16: float
    sigma_int_p84: float
    sigma_int_fixed: float | None
    n: int
    r_min_kpc: float
    r_max_kpc: float
    flag: bool
    reason: str
    fit: LinearFit | None = field(default=None, repr=False)

    @classmethod
    def from_fit(cls, method: str, fit: LinearFit) -> "GradientResult":
        sp, ss = fit.slope_percentiles, fit.sigma_int_percentiles
        return cls(
            method,
            fit.slope,
            fit.slope_err,
            float(sp[0]),
            float(sp[1]),
            float(sp[2]),
            fit.intercept,
            fit.intercept_err,
            fit.sigma_int,
            float(ss[0]),
            float(ss[2]),
            fit.sigma_int_fixed,
            fit.n,
            float(fit.radius_range[0]),
            float(fit.radius_range[1]),
            fit.flag,
            fit.reason,
            fit,
        )


def gradient_row(galaxy: str, result: GradientResult) -> dict:
    """One table row (plain Python values) of a gradient: galaxy, method, slope and error
    (dex/kpc), percentiles, intercept (dex), intrinsic scatter (dex; ``sigma_int_fixed`` NaN
    when fitted), number of points, radius range (kpc), flag and reason."""
    return dict(
        galaxy=str(galaxy),
        method=result.method,
        slope=float(result.slope),
        slope_err=float(result.slope_err),
        slope_p16=float(result.slope_p16),
        slope_p50=float(result.slope_p50),
        slope_p84=float(result.slope_p84),
        intercept=float(result.intercept),
        intercept_err=float(result.intercept_err),
        sigma_int=float(result.sigma_int),
        sigma_int_p16=float(result.sigma_int_p16),
        sigma_int_p84=float(result.sigma_int_p84),
        sigma_int_fixed=float("nan")
        if result.sigma_int_fixed is None
        else float(result.sigma_int_fixed),
        n=int(result.n),
        r_min_kpc=float(result.r_min_kpc),
        r_max_kpc=float(result.r_max_kpc),
        flag=bool(result.flag),
        reason=str(result.reason),
    )
