"""Products of the morphology step: the source-plane morphology table (ECSV) and radius maps (FITS)."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from ohmap.errors import InputError
from ohmap.io.atomic import write_fits_atomic, write_table_atomic
from ohmap.io.fitscheck import require_whole_fits

from .morphology import SourceMorphology
from .radius import RadiusMap

#: Columns of the morphology table: name -> (attribute, unit, description).
_COLUMNS = {
    "x0": ("x0", u.arcsec, "source-plane centroid, east of the reference's source position"),
    "x0_err": ("x0_err", u.arcsec, "1-sigma error of x0"),
    "y0": ("y0", u.arcsec, "source-plane centroid, north of the reference's source position"),
    "y0_err": ("y0_err", u.arcsec, "1-sigma error of y0"),
    "ra_center": ("ra_center", u.deg, "source-plane RA of the centroid"),
    "dec_center": ("dec_center", u.deg, "source-plane Dec of the centroid"),
    "sigma_major": ("sigma_major", u.arcsec, "Gaussian sigma along the major axis"),
    "sigma_major_err": ("sigma_major_err", u.arcsec, "1-sigma error"),
    "sigma_minor": ("sigma_minor", u.arcsec, "Gaussian sigma along the minor axis"),
    "sigma_minor_err": ("sigma_minor_err", u.arcsec, "1-sigma error"),
    "sigma_major_kpc": ("sigma_major_kpc", u.kpc, "sigma_major in proper kpc"),
    "sigma_major_kpc_err": ("sigma_major_kpc_err", u.kpc, "1-sigma error"),
    "sigma_minor_kpc": ("sigma_minor_kpc", u.kpc, "sigma_minor in proper kpc"),
    "sigma_minor_kpc_err": ("sigma_minor_kpc_err", u.kpc, "1-sigma error"),
    "axis_ratio": ("axis_ratio", u.dimensionless_unscaled, "q = sigma_minor / sigma_major"),
    "axis_ratio_err": ("axis_ratio_err", u.dimensionless_unscaled, "1-sigma error of q"),
    "pa": ("pa_deg", u.deg, "major-axis position angle, east of north, [0, 180)"),
    "pa_err": ("pa_err_deg", u.deg, "1-sigma error of pa"),
    "inclination": (
        "inclination_deg",
        u.deg,
        "thin-disk inclination arccos(q), no thickness correction",
    ),
    "inclination_err": ("inclination_err_deg", u.deg, "1-sigma error"),
    "amplitude": ("amplitude", None, "peak of the fitted Gaussian, units of the map"),
    "amplitude_err": ("amplitude_err", None, "1-sigma error"),
    "ra_ref": ("ra_ref", u.deg, "source-plane RA of the reference point (offset origin)"),
    "dec_ref": ("dec_ref", u.deg, "source-plane Dec of the reference point (offset origin)"),
    "ra0": ("ra0", u.deg, "image-plane RA of the reference point"),
    "dec0": ("dec0", u.deg, "image-plane Dec of the reference point"),
    "n_pixels": ("n_pixels", None, "image pixels used in the fit"),
    "n_uncovered": ("n_uncovered", None, "selected pixels left out: off the lens-model maps"),
    "reduced_chi2": (
        "reduced_chi2",
        u.dimensionless_unscaled,
        "weighted residual variance (peak-normalised map)",
    ),
    "threshold": ("threshold", u.dimensionless_unscaled, "fraction of the peak used"),
}

_INTEGER_COLUMNS = ("n_pixels", "n_uncovered")


def write_morphology(
    path,
    morphology: SourceMorphology,
    amplitude_unit: str | None = "Msun/kpc2",
    meta: dict | None = None,
):
    """Write a morphology as a one-row ECSV table with units, atomically.

    Parameters
    ----------
    path : path-like
        Output ``.ecsv`` file; parent folders are created.
    morphology : SourceMorphology
    amplitude_unit : str, optional
        Unit of the fitted map (default ``Msun/kpc2``); None for none.
    meta : dict, optional
        Extra table metadata (merged after ``galaxy``, ``lens_model``, ``z_source``).

    Returns
    -------
    pathlib.Path
    """
    table = Table()
    for name, (attr, unit, what) in _COLUMNS.items():
        value = getattr(morphology, attr)
        if name.startswith("amplitude") and amplitude_unit:
            unit = u.Unit(amplitude_unit)
        table[name] = [int(value)] if name in _INTEGER_COLUMNS else [float(value)]
        if unit is not None:
            table[name].unit = unit
        table[name].description = what
    table.meta["galaxy"] = morphology.galaxy
    table.meta["lens_model"] = morphology.lens_model
    table.meta["z_source"] = float(morphology.z_source)
    table.meta["method"] = (
        "2D elliptical Gaussian fitted in the source plane to the "
        "ray-traced surface-density map, samples weighted by source-plane "
        "area (pixel area / |mu|); ohmap.gradients.morphology"
    )
    table.meta["offsets"] = (
        "arcsec east (x) and north (y) of the source-plane position of "
        "(ra0, dec0), i.e. of (ra_ref, dec_ref)"
    )
    table.meta["uncertainties"] = "least-squares covariance scaled by the reduced chi-square"
    if meta:
        table.meta.update(meta)
    path = Path(path)
    write_table_atomic(table, path, format="ascii.ecsv")
    return path


def read_morphology(path) -> SourceMorphology:
    """Read a morphology written by :func:`write_morphology`.

    Raises
    ------
    InputError
        If the file is not a one-row table with the needed columns.
    """
    try:
        table = Table.read(path, format="ascii.ecsv")
    except Exception as exc:  # astropy raises many kinds for a bad file
        raise InputError(path, f"cannot read the morphology table: {exc}") from exc
    if len(table) != 1:
        raise InputError(path, f"expected one row, found {len(table)}")
    row = table[0]
    names = {f.name for f in fields(SourceMorphology)}
    values = {}
    for col, (attr, _, _) in _COLUMNS.items():
        if attr in names and col in table.colnames:
            values[attr] = int(row[col]) if col in _INTEGER_COLUMNS else float(row[col])
    missing = {"x0", "y0", "sigma_major", "sigma_minor", "pa_deg"} - set(values)
    if missing:
        raise InputError(path, f"missing column(s) {sorted(missing)}")
    if "z_source" not in table.meta:
        raise InputError(path, "the table metadata have no z_source")
    values["z_source"] = float(table.meta["z_source"])
    values["galaxy"] = str(table.meta.get("galaxy", ""))
    values["lens_model"] = str(table.meta.get("lens_model", ""))
    return SourceMorphology(**values)


def write_radius_map(
    path, radius, source_x, source_y, header_cards: dict | None = None, covered=None
):
    """Write a deprojected-radius map and its source-plane offsets as FITS, atomically.

    Parameters
    ----------
    path : path-like
        Output file.
    radius : array_like
        Deprojected radius, proper kpc (extension ``RADIUS``, BUNIT kpc); NaN exactly where
        not ``covered``.
    source_x, source_y : array_like
        Source-plane offsets, arcsec east and north (extensions ``SRC_DX``, ``SRC_DY``).
    header_cards : dict, optional
        Primary-header cards, keyword -> value or (value, comment) (e.g. the frame's
        ``FRAMEPA``, ``PIXSCALE``, and :meth:`~ohmap.gradients.morphology.SourceMorphology.header_cards`).
    covered : array_like of bool, optional
        The pixels the lens-model maps cover (extension ``COVERED``, uint8 1/0); default
        where the radius is finite. The primary header's ``NUNCOV`` counts the others.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    InputError
        If the radius is not finite at a covered pixel, or finite at an uncovered one.
    """
    radius = np.asarray(radius, dtype=np.float64)
    covered = np.isfinite(radius) if covered is None else np.asarray(covered, dtype=bool)
    if covered.shape != radius.shape or np.any(np.isfinite(radius) != covered):
        raise InputError(
            path, "the radius must be finite exactly at the pixels the lens maps cover"
        )
    primary = fits.PrimaryHDU()
    for key, value in (header_cards or {}).items():
        primary.header[key] = value
    n_uncovered = int(np.count_nonzero(~covered))
    primary.header["NUNCOV"] = (n_uncovered, "pixels off the lens maps: no radius")
    if n_uncovered:
        primary.header["COMMENT"] = (
            f"{n_uncovered} of {covered.size} pixels lie (partly) outside the lens-model maps: "
            "they cannot be ray-traced, so RADIUS, SRC_DX, SRC_DY are NaN and COVERED is 0 there."
        )
    hdus = [primary]
    for name, data, unit, what in (
        ("RADIUS", radius, "kpc", "deprojected galactocentric radius (disk plane)"),
        ("SRC_DX", source_x, "arcsec", "source-plane offset east of the reference"),
        ("SRC_DY", source_y, "arcsec", "source-plane offset north of the reference"),
    ):
        h = fits.ImageHDU(np.asarray(data, dtype=np.float64), name=name)
        h.header["BUNIT"] = unit
        h.header["CONTENT"] = what
        hdus.append(h)
    h = fits.ImageHDU(covered.astype(np.uint8), name="COVERED")
    h.header["CONTENT"] = "1 where the lens-model maps cover the pixel (it has a radius), else 0"
    hdus.append(h)
    return write_fits_atomic(fits.HDUList(hdus), path)


def read_radius_map(path) -> RadiusMap:
    """Read a file written by :func:`write_radius_map`.

    Files without a ``COVERED`` extension (written before it existed) are taken to be covered
    where their radius is finite.

    Raises
    ------
    InputError
        If an extension is missing or the shapes differ.
    """
    try:
        with fits.open(path) as hdul:
            names = [h.name for h in hdul]
            missing = [e for e in ("RADIUS", "SRC_DX", "SRC_DY") if e not in names]
            if missing:
                raise InputError(path, f"missing extension(s) {missing}")
            header = hdul[0].header.copy()
            radius, sdx, sdy = (
                np.array(hdul[e].data, dtype=float) for e in ("RADIUS", "SRC_DX", "SRC_DY")
            )
            covered = (
                np.array(hdul["COVERED"].data) != 0 if "COVERED" in names else np.isfinite(radius)
            )
    except OSError as exc:
        raise InputError(path, f"cannot read the radius map: {exc}") from exc
    if not (radius.shape == sdx.shape == sdy.shape == covered.shape):
        raise InputError(
            path,
            f"extension shapes differ: {radius.shape}, {sdx.shape}, {sdy.shape}, {covered.shape}",
        )
    return RadiusMap(radius, sdx, sdy, header, covered & np.isfinite(radius))


#: Units a stellar-mass map may be in: any linear surface density (the morphology fit uses the
#: map's shape, not its scale), or mass per pixel. A logarithmic map is refused: its isophotes
#: and moments would be those of log(mass).
MASS_MAP_UNITS = (u.solMass / u.kpc**2, u.solMass / u.arcsec**2, u.solMass)

#: Spellings of the solar mass that astropy does not parse, as found in users' files.
_MASS_SPELLING = re.compile(r"\b(msun|m_sun|msol)\b", re.IGNORECASE)


def parse_mass_unit(text: str):
    """The astropy unit of a mass map's BUNIT, or None when it is not one of
    :data:`MASS_MAP_UNITS`."""
    cleaned = _MASS_SPELLING.sub("solMass", str(text).strip()).replace("^", "")
    try:
        unit = u.Unit(cleaned, parse_strict="raise")
    except ValueError:
        return None
    if isinstance(unit, u.FunctionUnitBase):  # dex(...), mag: a logarithmic map
        return None
    return unit if any(unit.is_equivalent(ok) for ok in MASS_MAP_UNITS) else None


def read_mass_map(path):
    """A stellar-mass surface-density map (the sample sheet's ``mass_map``): its image (the
    first HDU with a 2D image, as float) and celestial WCS.

    Raises
    ------
    InputError
        Naming the file: missing, not whole FITS, no 2D image, no celestial WCS, or a BUNIT that
        is not one of :data:`MASS_MAP_UNITS` (absent: the documented Msun/kpc^2).
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "mass map file not found")
    require_whole_fits(path)
    with fits.open(path) as hdul:
        hdu = next((h for h in hdul if h.is_image and h.data is not None), None)
        if hdu is None or hdu.data.ndim != 2:
            raise InputError(path, "the mass map must be a 2D image")
        image = np.asarray(hdu.data, dtype=float)
        header = hdu.header.copy()
    bunit = str(header.get("BUNIT", "")).strip()
    if bunit and parse_mass_unit(bunit) is None:
        raise InputError(path, f"BUNIT = {bunit!r} is not a linear stellar-mass surface density")
    wcs = WCS(header).celestial
    if wcs.naxis != 2:
        raise InputError(path, "the mass map has no celestial (RA/Dec) WCS")
    return image, wcs
