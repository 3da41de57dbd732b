"""Read and write lens models in the Hubble Frontier Fields (HFF) map format.

An HFF lens model is four FITS images sharing one prefix, e.g.
``hlsp_frontier_model_macs1149_glafic_v3_x-arcsec-deflect.fits``:

* ``x-arcsec-deflect`` / ``y-arcsec-deflect``: deflection angle in arcsec along the map's
  +x and +y *pixel* axes (not along RA/Dec);
* ``kappa``: convergence (dimensionless);
* ``gamma``: shear magnitude (dimensionless).

All four are normalised to D_ls/D_s = 1 and carry the same celestial (TAN) WCS. Scaling to a
source redshift is done by :mod:`ohmap.gradients.lensing`.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning
from astropy.wcs.utils import proj_plane_pixel_scales

from ohmap.errors import InputError

from .atomic import write_fits_atomic
from .fitscheck import require_whole_fits

#: File-name suffix of each map in an HFF release, keyed by the name ohmap uses for it.
HFF_SUFFIXES = {
    "alpha_x": "x-arcsec-deflect",
    "alpha_y": "y-arcsec-deflect",
    "kappa": "kappa",
    "gamma": "gamma",
}

_BUNIT = {"alpha_x": "arcsec", "alpha_y": "arcsec", "kappa": "", "gamma": ""}

_CONTENT = {
    "alpha_x": "deflection along +x pixel axis, arcsec, D_ls/D_s=1",
    "alpha_y": "deflection along +y pixel axis, arcsec, D_ls/D_s=1",
    "kappa": "convergence kappa, D_ls/D_s=1",
    "gamma": "shear magnitude |gamma|, D_ls/D_s=1",
}

#: Largest disagreement allowed between a configured lens redshift and a map's ``Z_LENS``.
Z_LENS_TOLERANCE = 1e-3

#: Largest allowed disagreement between the WCS of the four maps, in units of the pixel scale.
#: Loose enough for header round-off, tight enough to catch a map regridded or shifted.
_WCS_TOLERANCE_PIXELS = 1e-3


@dataclass
class HFFMaps:
    """The four maps of an HFF lens model, normalised to D_ls/D_s = 1.

    Attributes
    ----------
    alpha_x, alpha_y : numpy.ndarray
        Deflection (arcsec) along the +x and +y pixel axes, shape ``(ny, nx)``, float64.
    kappa : numpy.ndarray
        Convergence, shape ``(ny, nx)``.
    gamma : numpy.ndarray
        Shear magnitude, shape ``(ny, nx)``.
    wcs : astropy.wcs.WCS
        The celestial WCS shared by the four maps (taken from the ``alpha_x`` file).
    z_lens : float or None
        Lens redshift from the ``Z_LENS`` header keyword; None when no map carries it.
    source_paths : dict of str to pathlib.Path
        The file each map was read from, keyed like :data:`HFF_SUFFIXES`.
    """

    alpha_x: np.ndarray
    alpha_y: np.ndarray
    kappa: np.ndarray
    gamma: np.ndarray
    wcs: WCS
    z_lens: float | None
    source_paths: dict[str, Path]


def hff_paths(prefix: str | os.PathLike) -> dict[str, Path]:
    """The four file paths of an HFF lens model.

    Parameters
    ----------
    prefix : str or os.PathLike
        Everything before ``_<suffix>.fits``, e.g.
        ``.../hlsp_frontier_model_macs1149_glafic_v3``.

    Returns
    -------
    dict of str to pathlib.Path
        Keys ``alpha_x``, ``alpha_y``, ``kappa``, ``gamma``.
    """
    prefix = os.fspath(prefix)
    return {key: Path(f"{prefix}_{suffix}.fits") for key, suffix in HFF_SUFFIXES.items()}


def write_hff_maps(
    prefix: str | os.PathLike,
    alpha_x,
    alpha_y,
    kappa,
    gamma,
    wcs: WCS,
    z_lens: float,
    model_name: str,
    overwrite: bool = True,
) -> dict[str, Path]:
    """Write four HFF-format FITS maps sharing ``prefix``.

    Parameters
    ----------
    prefix : str or os.PathLike
        Output prefix; see :func:`hff_paths`. Missing parent folders are created.
    alpha_x, alpha_y : array_like
        Deflection (arcsec) along the +x and +y pixel axes of ``wcs``, shape ``(ny, nx)``,
        for D_ls/D_s = 1.
    kappa, gamma : array_like
        Convergence and shear magnitude for D_ls/D_s = 1, same shape.
    wcs : astropy.wcs.WCS
        Celestial WCS of the maps.
    z_lens : float
        Lens redshift, stored as ``Z_LENS``.
    model_name : str
        Model identifier, stored as ``MODEL``.
    overwrite : bool, optional
        Replace existing files (default True).

    Returns
    -------
    dict of str to pathlib.Path
        The files written, keyed like :data:`HFF_SUFFIXES`.

    Raises
    ------
    InputError
        If the maps are not 2D, differ in shape, hold non-finite values, or the WCS is not a
        2D celestial one; nothing is written in that case.
    """
    paths = hff_paths(prefix)
    arrays = {"alpha_x": alpha_x, "alpha_y": alpha_y, "kappa": kappa, "gamma": gamma}
    arrays = {key: np.asarray(value, dtype=float) for key, value in arrays.items()}
    shape = arrays["alpha_x"].shape
    # Validate everything before touching the disk so a bad call leaves no half-written model.
    for key, data in arrays.items():
        if data.ndim != 2:
            raise InputError(paths[key], f"{key} map must be 2D, got shape {data.shape}")
        if data.shape != shape:
            raise InputError(paths[key], f"{key} map has shape {data.shape}, alpha_x has {shape}")
        if not np.all(np.isfinite(data)):
            raise InputError(
                paths[key],
                f"{key} map holds {np.count_nonzero(~np.isfinite(data))} non-finite values",
            )
    if wcs.naxis != 2 or not wcs.has_celestial:
        raise InputError(paths["alpha_x"], "the WCS must be a 2D celestial (RA/Dec) WCS")
    if z_lens is None or not np.isfinite(z_lens) or z_lens < 0:
        raise InputError(paths["alpha_x"], f"z_lens must be a finite redshift >= 0, got {z_lens}")

    for key, data in arrays.items():
        header = wcs.to_header()
        header["BUNIT"] = (_BUNIT[key], "unit of the map values")
        header["MAPTYPE"] = (key, "ohmap name of this map")
        header["CONTENT"] = _CONTENT[key]
        header["Z_LENS"] = (float(z_lens), "lens redshift")
        header["MODEL"] = (str(model_name), "lens model name")
        header["DLS_DS"] = (1.0, "maps normalised to D_ls/D_s = 1")
        header["COMMENT"] = (
            "Normalised to D_ls/D_s = 1: multiply deflection, kappa and gamma by D_ls/D_s "
            "of the source redshift."
        )
        if key.startswith("alpha"):
            header["COMMENT"] = "Deflection is along the map's pixel axis, not along RA/Dec."
        hdu = fits.PrimaryHDU(data=data.astype(np.float32), header=header)
        write_fits_atomic(hdu, paths[key], overwrite=overwrite)
    return paths


def _read_image(path: Path, key: str):
    """Return (data as float64, header) of the first HDU of ``path`` holding image data."""
    if not path.is_file():
        raise InputError(path, f"{key} map file is missing")
    require_whole_fits(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            for hdu in hdul:
                if isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU)) and hdu.data is not None:
                    return np.array(hdu.data, dtype=float), hdu.header.copy()
    except OSError as exc:
        raise InputError(path, f"cannot be read as FITS ({exc})") from exc
    raise InputError(path, f"{key} map file holds no image data")


def _celestial_wcs(path: Path, header) -> WCS:
    # Real HFF headers sometimes carry non-standard date keywords that astropy "fixes" with a
    # warning; that is harmless for the celestial part we use.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            wcs = WCS(header)
        except Exception as exc:  # astropy raises several types for broken WCS headers
            raise InputError(path, f"WCS in header cannot be parsed ({exc})") from exc
    if wcs.naxis != 2 or not wcs.has_celestial:
        raise InputError(path, "header has no 2D celestial (RA/Dec) WCS")
    return wcs


def _check_same_wcs(reference: WCS, other: WCS, shape, path: Path) -> None:
    """Compare the sky position of the corners and centre of the map under two WCS."""
    ny, nx = shape
    x = np.array([0.0, nx - 1.0, 0.0, nx - 1.0, (nx - 1) / 2.0])
    y = np.array([0.0, 0.0, ny - 1.0, ny - 1.0, (ny - 1) / 2.0])
    ra1, dec1 = reference.pixel_to_world_values(x, y)
    ra2, dec2 = other.pixel_to_world_values(x, y)
    # Small-angle separation is plenty: we only need to detect disagreements >~ 1 mas.
    dra = (np.asarray(ra1) - np.asarray(ra2) + 180.0) % 360.0 - 180.0
    sep_arcsec = 3600.0 * np.hypot(dra * np.cos(np.radians(dec1)), np.asarray(dec1) - dec2)
    tolerance = _WCS_TOLERANCE_PIXELS * 3600.0 * float(np.min(proj_plane_pixel_scales(reference)))
    if not np.all(np.isfinite(sep_arcsec)) or np.max(sep_arcsec) > tolerance:
        raise InputError(
            path,
            f"WCS differs from the x-deflection map's: pixel positions disagree by up to "
            f"{np.nanmax(sep_arcsec):.3g} arcsec (tolerance {tolerance:.3g} arcsec)",
        )


def read_hff_maps(prefix: str | os.PathLike) -> HFFMaps:
    """Read the four maps of an HFF lens model and check they belong together.

    Parameters
    ----------
    prefix : str or os.PathLike
        Everything before ``_<suffix>.fits``; see :func:`hff_paths`.

    Returns
    -------
    HFFMaps
        Maps as float64 arrays, the shared WCS, and ``Z_LENS`` when present.

    Raises
    ------
    InputError
        Naming the offending file when a map is missing, has no image data, is not 2D, differs
        in shape or WCS from the x-deflection map, holds non-finite values, or when the maps
        disagree on ``Z_LENS``.
    """
    paths = hff_paths(prefix)
    arrays: dict[str, np.ndarray] = {}
    z_values: dict[str, float] = {}
    reference_wcs = None
    reference_shape = None
    for key, path in paths.items():
        data, header = _read_image(path, key)
        if data.ndim != 2:
            raise InputError(
                path, f"{key} map must be a 2D image, got {data.ndim} axes (shape {data.shape})"
            )
        wcs = _celestial_wcs(path, header)
        if reference_shape is None:
            reference_shape, reference_wcs = data.shape, wcs
        else:
            if data.shape != reference_shape:
                raise InputError(
                    path,
                    f"{key} map has shape {data.shape}, the x-deflection map "
                    f"{paths['alpha_x'].name} has {reference_shape}",
                )
            _check_same_wcs(reference_wcs, wcs, reference_shape, path)
        bad = ~np.isfinite(data)
        if bad.any():
            row, col = np.argwhere(bad)[0]
            raise InputError(
                path,
                f"{key} map holds {int(bad.sum())} non-finite (NaN/inf) values, first at "
                f"pixel x={col}, y={row} (0-based)",
            )
        if "Z_LENS" in header:
            try:
                z_values[key] = float(header["Z_LENS"])
            except (TypeError, ValueError) as exc:
                raise InputError(path, f"Z_LENS = {header['Z_LENS']!r} is not a number") from exc
        arrays[key] = data

    z_lens = None
    if z_values:
        distinct = sorted(set(z_values.values()))
        if len(distinct) > 1:
            key = next(k for k, v in z_values.items() if v != z_values[next(iter(z_values))])
            raise InputError(paths[key], f"maps disagree on Z_LENS: {z_values}")
        z_lens = distinct[0]
    return HFFMaps(
        alpha_x=arrays["alpha_x"],
        alpha_y=arrays["alpha_y"],
        kappa=arrays["kappa"],
        gamma=arrays["gamma"],
        wcs=reference_wcs,
        z_lens=z_lens,
        source_paths=paths,
    )


def _image_headers(path: Path):
    """Headers of the image HDUs of ``path``, in order, read without their data."""
    try:
        with fits.open(path, memmap=True, lazy_load_hdus=True) as hdul:
            return [
                hdu.header.copy()
                for hdu in hdul
                if isinstance(hdu, (fits.PrimaryHDU, fits.ImageHDU))
            ]
    except OSError as exc:
        raise InputError(path, f"cannot be read as FITS ({exc})") from exc


def read_hff_z_lens(prefix: str | os.PathLike) -> tuple[float | None, Path | None]:
    """``Z_LENS`` from the headers of the maps of an HFF lens model, without reading the maps.

    Only the maps that exist are looked at (the caller decides what a missing one means).

    Parameters
    ----------
    prefix : str or os.PathLike
        Everything before ``_<suffix>.fits``; see :func:`hff_paths`.

    Returns
    -------
    z_lens : float or None
        The lens redshift the headers carry; None when no header carries ``Z_LENS``.
    path : pathlib.Path or None
        The first file carrying it (the x-deflection map when that does).

    Raises
    ------
    InputError
        Naming the file when a header cannot be read, its ``Z_LENS`` is not a number, or two
        maps disagree on it.
    """
    found: dict[Path, float] = {}
    for path in hff_paths(prefix).values():
        if not path.is_file():
            continue
        for header in _image_headers(path):
            if "Z_LENS" in header:
                try:
                    found[path] = float(header["Z_LENS"])
                except (TypeError, ValueError) as exc:
                    raise InputError(
                        path, f"Z_LENS = {header['Z_LENS']!r} is not a number"
                    ) from exc
                break
    if not found:
        return None, None
    first, z_lens = next(iter(found.items()))
    for path, value in found.items():
        if value != z_lens:
            raise InputError(
                path, f"Z_LENS = {value} differs from Z_LENS = {z_lens} of {first.name}"
            )
    return z_lens, first


def read_hff_footprint(prefix: str | os.PathLike) -> tuple[WCS, tuple[int, int]]:
    """Celestial WCS and shape ``(ny, nx)`` of an HFF lens model, from the x-deflection map's
    header alone (cheap: no map is read).

    Parameters
    ----------
    prefix : str or os.PathLike
        Everything before ``_<suffix>.fits``; see :func:`hff_paths`.

    Returns
    -------
    wcs : astropy.wcs.WCS
    shape : tuple of int

    Raises
    ------
    InputError
        Naming the file when it is missing, has no 2D image HDU or no celestial WCS.
    """
    path = hff_paths(prefix)["alpha_x"]
    if not path.is_file():
        raise InputError(path, "alpha_x map file is missing")
    for header in _image_headers(path):
        if header.get("NAXIS") == 2:
            shape = (int(header["NAXIS2"]), int(header["NAXIS1"]))
            return _celestial_wcs(path, header), shape
    raise InputError(path, "alpha_x map file holds no 2D image")
