"""Reader for grizli ``*.stack.fits`` files (``MultiBeam.drizzle_grisms_and_PAs`` output).

Layout (grizli 1.14): a primary header with the object ``ID``, ``RA``, ``DEC`` and ``ISFLAM``,
then for each grism one block per dispersion position angle and one combined block, each block
made of image extensions ``SCI``, ``WHT``, ``CONTAM`` (per-PA blocks only), ``MODEL`` and
``KERNEL`` that share an ``EXTVER``:

* ``EXTVER = 'G141,74.0'``: grism and *dispersion* position angle in degrees (not PA_V3);
* ``EXTVER = 'G141'``: all PAs of that grism drizzled together.

Facts the reader relies on, checked against the real file
``grizli-goodss-00152/j033216m2743_00152.stack.fits`` and grizli's source:

* The wavelength of 0-based column ``x`` is ``(x + 1 - CRPIX1) * CD1_1 + CRVAL1`` in micron;
  the ``CTYPE``/``CUNIT`` cards of that axis are placeholders and are ignored.
* ``WHT`` is the inverse variance of ``SCI``.
* grizli drizzles ``SCI - CONTAM - background``: the stored ``SCI`` is already
  contamination-subtracted (in the real file SCI averages ~0 where CONTAM is 0.01-0.03).
  :class:`~ohmap.spectra.spectrum.Spectrum2D` keeps the *observed* flux in ``science`` and the
  neighbours' model in ``contamination``, so for per-PA blocks this reader adds ``CONTAM`` back
  (exact, because both were drizzled with the same weights).  Combined blocks have no
  ``CONTAM``; their science stays contamination-subtracted and their contamination is zero, so
  ``science - contamination`` is grizli's cleaned spectrum in both cases.
* ``ISFLAM = F``: pixels are count rates (e-/s); they are converted with the aXe sensitivity
  curve named by the ``CONF`` card (see :mod:`ohmap.io.sensitivity`).
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ohmap.errors import InputError
from ohmap.io.fitscheck import require_whole_fits
from ohmap.io.sensitivity import (
    SensitivityCurve,
    counts_per_flambda,
    counts_to_flambda,
    read_axe_sensitivity,
    sensitivity_file_from_conf,
)

from .grisms import get_grism
from .spectrum import Spectrum2D, pa_v3_from_dispersion_pa

#: Native WFC3/IR pixel, arcsec; the stack's spatial pixel when grizli's SSCALE is 1.
WFC3_IR_PIXEL_SCALE = 0.128

_BLOCK_EXTENSIONS = ("SCI", "WHT", "CONTAM", "MODEL", "KERNEL")

# A stack axis in micron spans roughly 0.5-3 um; anything else means the header is in another
# unit and the micron rule would silently give nonsense.
_MICRON_RANGE = (0.3, 5.0)


def read_grizli_stack(
    path: str | os.PathLike,
    calibration_dir: str | os.PathLike | None = None,
    galaxy: str | None = None,
    include_combined: bool = False,
    *,
    pixel_scale: float = WFC3_IR_PIXEL_SCALE,
    flambda_scale: float = 1.0,
) -> list[Spectrum2D]:
    """Read the 2D spectra of a grizli ``*.stack.fits`` file.

    Parameters
    ----------
    path : str or os.PathLike
        The stack file.
    calibration_dir : str or os.PathLike, optional
        Folder holding the aXe configuration files named by the ``CONF`` cards (only their base
        names are used, e.g. ``G102.F098M.V4.32.conf``) and the sensitivity curves they list.
        Required when the stack is in count rates (``ISFLAM = F``).
    galaxy : str, optional
        Galaxy identifier; defaults to the primary header ``ID`` as five digits (``'00152'``).
    include_combined : bool
        Also return the combined (all-PA) block of each grism.  It is returned only when the
        grism has exactly one PA in the file, with that PA's angles, since a combined spectrum
        of several roll angles has no single dispersion direction; other combined blocks are
        skipped with a warning.  Returned combined spectra carry ``meta['combined'] = True``.
    pixel_scale : float
        Spatial pixel scale of the stack, arcsec per pixel.  The default is one native WFC3/IR
        pixel, 0.128 arcsec, which is what grizli writes when ``SSCALE = 1``.
    flambda_scale : float
        Only for ``ISFLAM = T`` stacks: factor turning pixel values into
        1e-17 erg/s/cm^2/Angstrom.  grizli's flambda drizzle divides by 1e-17, so its pixels are
        taken to be in 1e-17 erg/s/cm^2/Angstrom already (1.0).  This assumption is untested:
        the available real stack has ``ISFLAM = F``.

    Returns
    -------
    list of Spectrum2D
        One per returned block, in file order.  ``science``, ``error``, ``contamination`` and
        ``continuum`` (from ``MODEL``) are in 1e-17 erg/s/cm^2/Angstrom; ``error`` is
        ``1/sqrt(WHT)`` converted likewise and ``inf`` where ``WHT == 0`` or where the grism
        sensitivity is below 1e-3 of its peak.  ``pa_v3 = dispersion PA + 45`` degrees.
        ``meta`` holds ``extver``, ``combined``, ``conf``, ``ra``, ``dec``, ``isflam``,
        ``sensitivity_file``, ``counts_per_flambda`` (per column: e-/s per pixel for
        1e-17 erg/s/cm^2/Angstrom, or None when ``ISFLAM = T``), ``contamination_added_back``,
        ``has_continuum_model`` (True: MODEL), ``pa_label_from`` (how the PA label was
        derived, for messages), ``trace_center_row`` (0-based row of the trace, ``CRPIX2 - 1``,
        where a direct-image stamp is centred; a stack has no direct image) and a few grizli
        header cards.

    Raises
    ------
    InputError
        Naming the file (and extension/EXTVER) for: a missing or unreadable file, a SCI block
        without WHT/CONTAM/MODEL, shapes that differ from SCI, NaN, infinite or negative WHT,
        an unknown grism or an unparseable PA in EXTVER, a missing wavelength card, and an
        ``ISFLAM = F`` stack without a usable ``calibration_dir``.
    """
    path = Path(path)
    hdul = open_grizli_file(path, "stack")
    with hdul:
        primary = hdul[0].header
        galaxy = galaxy_of(hdul, path, galaxy)
        blocks = _collect_blocks(hdul, path)
        parsed = {extver: _parse_extver(extver, path) for extver in blocks}

        pas_per_grism: dict[str, list[float]] = {}
        for grism, pa in parsed.values():
            if pa is not None:
                pas_per_grism.setdefault(grism, []).append(pa)

        curves: dict[Path, SensitivityCurve] = {}
        spectra = []
        for extver, exts in blocks.items():
            grism, dispersion_pa = parsed[extver]
            combined = dispersion_pa is None
            if combined:
                if not include_combined:
                    continue
                pas = pas_per_grism.get(grism) or _primary_pas(primary, grism)
                if len(pas) != 1:
                    warnings.warn(
                        f"{path}: combined block {extver!r} skipped: grism {grism} has "
                        f"{len(pas)} position angles, so the stack has no single PA",
                        stacklevel=2,
                    )
                    continue
                dispersion_pa = pas[0]
            spectra.append(
                _read_block(
                    path,
                    primary,
                    extver,
                    exts,
                    grism,
                    dispersion_pa,
                    combined,
                    galaxy,
                    calibration_dir,
                    pixel_scale,
                    flambda_scale,
                    curves,
                )
            )
    return spectra


def open_grizli_file(path: Path, kind: str):
    """Open a grizli FITS product (``kind`` names it in errors) or raise InputError."""
    from astropy.io import fits

    if not path.is_file():
        raise InputError(path, f"grizli {kind} file not found")
    require_whole_fits(path)
    try:
        return fits.open(path, memmap=False)
    except OSError as exc:
        raise InputError(path, f"cannot read as FITS: {exc}") from exc


def galaxy_of(hdul, path: Path, galaxy: str | None) -> str:
    """The galaxy id: ``galaxy`` if given, else the primary header's ID as five digits."""
    if galaxy is not None:
        return galaxy
    primary = hdul[0].header
    if "ID" not in primary:
        raise InputError(path, "primary header has no ID card; pass galaxy=")
    return f"{int(primary['ID']):05d}"


def _collect_blocks(hdul, path: Path) -> dict[str, dict]:
    """Group the block extensions by EXTVER, in the order their SCI extensions appear."""
    blocks: dict[str, dict] = {}
    for index, hdu in enumerate(hdul[1:], start=1):
        name = str(hdu.header.get("EXTNAME", "")).strip().upper()
        if name not in _BLOCK_EXTENSIONS:
            continue
        if "EXTVER" not in hdu.header:
            raise InputError(path, f"{name} extension (HDU {index}) has no EXTVER card")
        extver = str(hdu.header["EXTVER"]).strip()
        exts = blocks.setdefault(extver, {})
        if name in exts:
            raise InputError(path, f"two {name} extensions with EXTVER {extver!r}")
        exts[name] = hdu
    for extver, exts in blocks.items():
        if "SCI" not in exts:
            raise InputError(path, f"EXTVER {extver!r} has {', '.join(exts)} but no SCI extension")
    if not blocks:
        raise InputError(path, "no SCI extensions: not a grizli stack file")
    return blocks


def _parse_extver(extver: str, path: Path) -> tuple[str, float | None]:
    """``'G141,74.0'`` -> (``'G141'``, 74.0); ``'G141'`` -> (``'G141'``, None)."""
    parts = [p.strip() for p in extver.split(",")]
    if len(parts) > 2:
        raise InputError(path, f"EXTVER {extver!r} is not 'GRISM' or 'GRISM,PA'")
    try:
        grism = get_grism(parts[0], path).name
    except InputError as exc:
        raise InputError(path, f"SCI extension with EXTVER {extver!r}: {exc.problem}") from exc
    if len(parts) == 1:
        return grism, None
    try:
        pa = float(parts[1])
    except ValueError:
        pa = np.nan
    if not np.isfinite(pa):
        raise InputError(
            path,
            f"SCI extension with EXTVER {extver!r}: cannot parse the dispersion PA "
            f"{parts[1]!r} as degrees",
        )
    return grism, pa


def _primary_pas(primary, grism: str) -> list[float]:
    """PAs the primary header lists for a grism (``NG141``, ``G14101``...)."""
    n = int(primary.get(f"N{grism}", 0))
    keys = (f"{grism}{i:02d}" for i in range(1, n + 1))
    return [float(primary[key]) for key in keys if key in primary]


def _card(headers, key, default=None):
    """First of ``headers`` that has ``key``; block header before primary header."""
    for header in headers:
        if key in header:
            return header[key]
    return default


def _wavelength(header, nx: int, path: Path, extver: str) -> np.ndarray:
    """Column wavelengths in Angstrom from the micron linear axis of a stack extension."""
    cards = {}
    for key in ("CRPIX1", "CRVAL1", "CD1_1"):
        if key not in header:
            raise InputError(path, f"SCI extension with EXTVER {extver!r} has no {key} card")
        cards[key] = float(header[key])
    micron = (np.arange(nx) + 1 - cards["CRPIX1"]) * cards["CD1_1"] + cards["CRVAL1"]
    lo, hi = _MICRON_RANGE
    if cards["CD1_1"] <= 0 or micron.min() < lo or micron.max() > hi:
        raise InputError(
            path,
            f"SCI extension with EXTVER {extver!r}: wavelength axis {micron.min():g}-"
            f"{micron.max():g} (CRVAL1/CD1_1 taken as micron) is not an increasing "
            f"{lo}-{hi} micron range",
        )
    return micron * 1e4


def _trace_row(header, ny: int) -> float:
    """0-based row of zero spatial offset (``CRPIX2 - 1`` when ``CRVAL2 = 0``), else the middle."""
    try:
        crpix, crval = float(header["CRPIX2"]), float(header.get("CRVAL2", 0.0))
        step = float(header.get("CD2_2", 1.0)) or 1.0
    except (KeyError, TypeError, ValueError):
        return (ny - 1) / 2.0
    row = crpix - 1.0 - crval / step
    return row if 0 <= row <= ny - 1 else (ny - 1) / 2.0


def _image(exts, name: str, extver: str, shape, path: Path) -> np.ndarray:
    hdu = exts[name]
    if hdu.data is None:
        raise InputError(path, f"{name} extension with EXTVER {extver!r} has no data")
    data = np.asarray(hdu.data, dtype=float)
    if shape is not None and data.shape != shape:
        raise InputError(
            path,
            f"{name} extension with EXTVER {extver!r} has shape {data.shape} but SCI has "
            f"shape {shape}",
        )
    return data


def _sensitivity_for(conf_card, beam, calibration_dir, path, extver, curves):
    """The sensitivity curve for a block's CONF card, read once per configuration file."""
    if conf_card is None:
        raise InputError(
            path, f"EXTVER {extver!r} is in count rates (ISFLAM=F) but has no CONF card"
        )
    if calibration_dir is None:
        raise InputError(
            path,
            f"EXTVER {extver!r} is in count rates (ISFLAM=F); pass calibration_dir= a folder "
            f"holding {Path(str(conf_card)).name} and its sensitivity curves (the unpacked WFC3 "
            "grism calibration tarball)",
        )
    conf = Path(calibration_dir) / Path(str(conf_card).strip()).name
    if not conf.is_file():
        raise InputError(
            path,
            f"configuration file {conf.name} (CONF card of EXTVER {extver!r}) not found in "
            f"calibration_dir {calibration_dir}; pass the folder holding the unpacked WFC3 "
            "grism calibration files",
        )
    if conf not in curves:
        curves[conf] = read_axe_sensitivity(sensitivity_file_from_conf(conf, beam))
    return conf, curves[conf]


def _read_block(
    path,
    primary,
    extver,
    exts,
    grism,
    dispersion_pa,
    combined,
    galaxy,
    calibration_dir,
    pixel_scale,
    flambda_scale,
    curves,
) -> Spectrum2D:
    required = ("SCI", "WHT", "MODEL") if combined else ("SCI", "WHT", "CONTAM", "MODEL")
    for name in required:
        if name not in exts:
            raise InputError(path, f"EXTVER {extver!r} has a SCI extension but no {name} extension")
    header = exts["SCI"].header
    headers = (header, primary)
    sci = _image(exts, "SCI", extver, None, path)
    if sci.ndim != 2:
        raise InputError(path, f"SCI extension with EXTVER {extver!r} is not a 2D image")
    wht = _image(exts, "WHT", extver, sci.shape, path)
    model = _image(exts, "MODEL", extver, sci.shape, path)
    contam = np.zeros_like(sci) if combined else _image(exts, "CONTAM", extver, sci.shape, path)

    nonfinite = ~np.isfinite(wht)
    if nonfinite.any():
        raise InputError(
            path,
            f"WHT extension with EXTVER {extver!r} has {int(nonfinite.sum())} NaN or infinite "
            "values (inverse variance must be finite)",
        )
    negative = wht < 0
    if negative.any():
        raise InputError(
            path,
            f"WHT extension with EXTVER {extver!r} has {int(negative.sum())} negative values "
            "(inverse variance must be >= 0)",
        )
    with np.errstate(divide="ignore"):
        error = np.where(wht > 0, 1.0 / np.sqrt(np.where(wht > 0, wht, 1.0)), np.inf)

    # Pixels without data may hold NaN in grizli output; they carry no information, and zeros
    # keep sums over whole images finite.
    empty = wht == 0
    for arr in (sci, contam, model):
        arr[empty & ~np.isfinite(arr)] = 0.0

    wavelength = _wavelength(header, sci.shape[1], path, extver)
    # grizli's SCI is SCI - CONTAM - background; restore the observed flux (see module notes).
    science = sci + contam

    isflam = _card(headers, "ISFLAM")
    if isflam is None:
        raise InputError(path, f"no ISFLAM card for EXTVER {extver!r} or in the primary header")
    if isinstance(isflam, str):
        isflam = isflam.strip().upper() in ("T", "TRUE", "1")
    isflam = bool(isflam)
    conf_card = _card(headers, "CONF")
    meta = {
        "extver": extver,
        "combined": combined,
        "conf": None if conf_card is None else str(conf_card),
        "ra": _card(headers, "RA"),
        "dec": _card(headers, "DEC"),
        "isflam": isflam,
        "contamination_added_back": not combined,
        "grizli_contamination_subtracted": True,
        "fcontam": _card(headers, "FCONTAM"),
        "sscale": header.get("SSCALE"),
        "dlam0": header.get("DLAM0"),
        "grizli_version": primary.get("GRIZLIV"),
        # CONTIN1D=T: MODEL is grizli's fitted continuum; F: the model of a flat spectrum.
        "model_is_continuum_fit": exts["MODEL"].header.get("CONTIN1D"),
        "model_redshift": exts["MODEL"].header.get("REDSHIFT"),
        "sensitivity_file": None,
        "counts_per_flambda": None,
        "flux_conversion": None,
        "has_continuum_model": True,
        "pa_label_from": (
            f"{grism}: EXTVER {extver!r}"
            + (f" (combined block; the grism's only PA {dispersion_pa:g})" if combined else "")
            + f": dispersion PA {dispersion_pa:g} + 45 = PA_V3 "
            f"{pa_v3_from_dispersion_pa(dispersion_pa):g}"
        ),
        # grizli's spatial axis: offset (row + 1 - CRPIX2) * CD2_2 from the trace, so the trace
        # (the object, where a direct-image stamp is centred) is on 0-based row CRPIX2 - 1.
        "trace_center_row": _trace_row(header, sci.shape[0]),
    }

    if isflam:
        science = science * flambda_scale
        error = error * flambda_scale
        contam = contam * flambda_scale
        model = model * flambda_scale
        meta["flux_conversion"] = f"ISFLAM=T: pixel values x {flambda_scale} = 1e-17 flam"
    else:
        beam = str(_card(headers, "BEAM", "A")).strip() or "A"
        conf, curve = _sensitivity_for(conf_card, beam, calibration_dir, path, extver, curves)
        science, error = counts_to_flambda(science, error, wavelength, curve)
        no_error = np.zeros_like(contam)
        contam, _ = counts_to_flambda(contam, no_error, wavelength, curve)
        model, _ = counts_to_flambda(model, no_error, wavelength, curve)
        meta["sensitivity_file"] = curve.source
        meta["counts_per_flambda"] = counts_per_flambda(wavelength, curve)
        meta["flux_conversion"] = (
            f"ISFLAM=F: e-/s per pixel / (sens * dlam * 1e-17), sens bin-averaged from "
            f"{Path(curve.source).name} (beam {beam} of {conf.name}), dlam = gradient of the "
            "wavelength grid"
        )

    sscale = header.get("SSCALE", 1)
    if sscale not in (None, 1, 1.0) and pixel_scale == WFC3_IR_PIXEL_SCALE:
        warnings.warn(
            f"{path}: EXTVER {extver!r} has SSCALE={sscale}; the spatial pixel is probably not "
            f"{WFC3_IR_PIXEL_SCALE} arcsec, pass pixel_scale=",
            stacklevel=3,
        )

    exptime = _card(headers, "EXPTIME")
    return Spectrum2D(
        galaxy=galaxy,
        pa_v3=pa_v3_from_dispersion_pa(dispersion_pa),
        dispersion_pa=float(dispersion_pa % 360.0),
        grism=grism,
        science=science,
        error=error,
        contamination=contam,
        continuum=model,
        wavelength=wavelength,
        pixel_scale=float(pixel_scale),
        source=str(path),
        exposure_time=None if exptime is None else float(exptime),
        meta=meta,
    )
