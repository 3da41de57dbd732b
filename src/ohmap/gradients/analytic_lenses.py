"""Analytic lenses (D_ls/D_s = 1) and their HFF-format maps, for tests and the mock data.

Each profile takes positions (x, y) in arcsec relative to the lens centre in any Cartesian
frame and returns (alpha_x, alpha_y, kappa, gamma1, gamma2) in that same frame; alpha in
arcsec. For these axisymmetric lenses gamma1 = -gamma cos(2 phi), gamma2 = -gamma sin(2 phi)
with phi = atan2(y, x). :func:`maps_on_grid` sums components into the maps that
:class:`ohmap.gradients.lensing.LensModel` reads.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Sequence

import numpy as np
from astropy.wcs import WCS

from .sky import pixel_scales_arcsec, tangent_plane_offsets


def _radial_profile(x, y, mean_kappa, kappa):
    """Assemble the outputs of an axisymmetric lens from kbar(r) = alpha/r and kappa(r)."""
    phi = np.arctan2(y, x)
    gamma = mean_kappa - kappa
    return (
        mean_kappa * x,
        mean_kappa * y,
        kappa,
        -gamma * np.cos(2.0 * phi),
        -gamma * np.sin(2.0 * phi),
    )


def point_mass_deflection(x, y, theta_e: float):
    """Point-mass lens.

    Parameters
    ----------
    x, y : array_like
        Position relative to the lens, arcsec.
    theta_e : float
        Einstein radius in arcsec for D_ls/D_s = 1.

    Returns
    -------
    alpha_x, alpha_y, kappa, gamma1, gamma2 : numpy.ndarray
        ``alpha = theta_e^2 / r`` radially (arcsec), ``kappa = 0`` and ``|gamma| =
        theta_e^2 / r^2`` away from the centre. At ``r = 0`` the deflection and shear are set to
        0 and kappa to ``inf`` (the delta function).
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    r2 = x**2 + y**2
    centre = r2 == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_kappa = np.where(centre, 0.0, theta_e**2 / r2)
    kappa = np.where(centre, np.inf, 0.0)
    ax, ay, _, g1, g2 = _radial_profile(x, y, mean_kappa, np.zeros_like(r2))
    return ax, ay, kappa, g1, g2


def sis_deflection(x, y, theta_e: float):
    """Singular isothermal sphere.

    Parameters
    ----------
    x, y : array_like
        Position relative to the lens, arcsec.
    theta_e : float
        Einstein radius in arcsec for D_ls/D_s = 1.

    Returns
    -------
    alpha_x, alpha_y, kappa, gamma1, gamma2 : numpy.ndarray
        ``alpha = theta_e`` radially (arcsec), ``kappa = |gamma| = theta_e / (2 r)``. At
        ``r = 0`` the deflection and shear are set to 0 and kappa to ``inf``.
    """
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    r = np.hypot(x, y)
    centre = r == 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_kappa = np.where(centre, 0.0, theta_e / r)
        kappa = np.where(centre, 0.0, theta_e / (2.0 * r))
    ax, ay, _, g1, g2 = _radial_profile(x, y, mean_kappa, kappa)
    return ax, ay, np.where(centre, np.inf, kappa), g1, g2


def cored_isothermal(x, y, theta_e: float, core: float):
    """Cored (non-singular) isothermal sphere.

    Parameters
    ----------
    x, y : array_like
        Position relative to the lens, arcsec.
    theta_e : float
        Normalisation in arcsec for D_ls/D_s = 1: the Einstein radius of the singular sphere
        with the same asymptotic profile.
    core : float
        Core radius ``rc`` in arcsec, > 0.

    Returns
    -------
    alpha_x, alpha_y, kappa, gamma1, gamma2 : numpy.ndarray
        ``alpha(r) = theta_e (sqrt(r^2 + rc^2) - rc) / r`` radially (arcsec),
        ``kappa = theta_e / (2 sqrt(r^2 + rc^2))``, ``|gamma| = alpha / r - kappa``. Finite
        everywhere, including the centre.
    """
    if core <= 0:
        raise ValueError(f"core radius must be > 0 arcsec, got {core}")
    x, y = np.broadcast_arrays(np.asarray(x, dtype=float), np.asarray(y, dtype=float))
    root = np.sqrt(x**2 + y**2 + core**2)
    # alpha/r written as theta_e / (root + rc) avoids the cancellation in root - rc near r = 0.
    mean_kappa = theta_e / (root + core)
    return _radial_profile(x, y, mean_kappa, theta_e / (2.0 * root))


class Component(NamedTuple):
    """One analytic lens component for :func:`maps_on_grid`.

    Attributes
    ----------
    profile : callable
        ``profile(x, y) -> (alpha_x, alpha_y, kappa, gamma1, gamma2)`` with ``x`` east and
        ``y`` north in arcsec relative to the component centre, D_ls/D_s = 1; e.g.
        ``functools.partial(cored_isothermal, theta_e=20.0, core=3.0)``.
    x0, y0 : float
        Component centre in arcsec east and north of the grid's reference point.
    """

    profile: Callable
    x0: float = 0.0
    y0: float = 0.0


def maps_on_grid(components: Sequence, wcs: WCS, shape, center_ra: float, center_dec: float):
    """HFF-format maps (D_ls/D_s = 1) of a sum of analytic lens components.

    Parameters
    ----------
    components : sequence
        Each a :class:`Component`, a ``(profile, x0, y0)`` tuple, or a bare profile callable
        (centred on the reference point). Offsets ``x0``/``y0`` and the profile's arguments
        are tangent-plane arcsec, east and north, about (``center_ra``, ``center_dec``).
    wcs : astropy.wcs.WCS
        Celestial WCS of the output grid, any orientation or handedness.
    shape : tuple of int
        ``(ny, nx)`` of the output maps.
    center_ra, center_dec : float
        Reference (tangent) point in degrees.

    Returns
    -------
    alpha_x, alpha_y, kappa, gamma : numpy.ndarray
        Deflection in arcsec along the +x and +y pixel axes of ``wcs`` (so that
        ``x - alpha_x / pixscale_x`` is the source pixel, as :class:`~ohmap.gradients.lensing.LensModel` assumes),
        convergence, and shear magnitude ``|sum of shear components|``; shape ``(ny, nx)``.
    """
    ny, nx = (int(n) for n in shape)
    yy, xx = np.mgrid[0:ny, 0:nx].astype(float)

    def offsets(px, py):
        ra, dec = wcs.pixel_to_world_values(px, py)
        return tangent_plane_offsets(ra, dec, center_ra, center_dec)

    east, north = offsets(xx, yy)
    alpha_e = np.zeros((ny, nx))
    alpha_n = np.zeros((ny, nx))
    kappa = np.zeros((ny, nx))
    gamma1 = np.zeros((ny, nx))
    gamma2 = np.zeros((ny, nx))
    for item in components:
        if callable(item):
            profile, x0, y0 = item, 0.0, 0.0
        else:
            profile, x0, y0 = item
        ax, ay, k, g1, g2 = profile(east - x0, north - y0)
        alpha_e += ax
        alpha_n += ay
        kappa += k
        # Shear is a spin-2 quantity: components add, magnitudes do not.
        gamma1 += g1
        gamma2 += g2

    # Local Jacobian d(east, north)/d(pixel) by central differences, so any rotation, flip
    # (east-left or east-right) or skew of the WCS is handled the same way.
    e_xp, n_xp = offsets(xx + 0.5, yy)
    e_xm, n_xm = offsets(xx - 0.5, yy)
    e_yp, n_yp = offsets(xx, yy + 0.5)
    e_ym, n_ym = offsets(xx, yy - 0.5)
    j11, j21 = e_xp - e_xm, n_xp - n_xm  # arcsec per pixel step along x
    j12, j22 = e_yp - e_ym, n_yp - n_ym  # arcsec per pixel step along y
    det = j11 * j22 - j12 * j21
    # Pixel displacement that moves the ray by (alpha_e, alpha_n) on the sky.
    dpx = (j22 * alpha_e - j12 * alpha_n) / det
    dpy = (-j21 * alpha_e + j11 * alpha_n) / det
    scales = pixel_scales_arcsec(wcs)
    return dpx * scales[0], dpy * scales[1], kappa, np.hypot(gamma1, gamma2)
