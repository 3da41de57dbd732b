"""Reader for grizli "beams" files (``*.beams.fits``): per-exposure detector cutouts.

Layout, checked against ``grizli-goodss-00152/j033216m2743_00152[.model-trace].beams.fits``
(grizli 1.14.3) and grizli's ``model.py``:

* Primary header: object ``ID``, ``RA``, ``DEC``, ``COUNT`` exposures and, per exposure ``nnnn``,
  ``FILEnnnn`` (grism exposure), ``GRISnnnn`` (grism) and ``NEXTnnnn`` (how many extensions
  follow for it, in file order).
* Per exposure: ``REF`` (direct-image cutout) and ``SEG`` (segmentation), both ``(ny, ny)``,
  then ``SCI``, ``ERR``, ``DQ``, ``CONTAM`` (e-/s, ``(ny, nx)``) and, in files written with
  the model and trace, ``MODEL`` and a ``TRACE`` table with one row per column: ``wavelength``
  (Angstrom), ``trace`` and ``sensitivity``.  ``SCI`` is the observed count rate (neighbours
  and sky residual included: unlike the drizzled stack, nothing is subtracted), ``ERR`` its
  1-sigma error.  In the real file the sky residual is about -0.002 (G102) and -0.001 (G141)
  1e-17 erg/s/cm^2/A per pixel (``meta['sky_residual']``), some 5% of the object's continuum
  in a 9-row aperture; after removing it the continuum agrees with the stack's to 5%.
* ``MODEL`` there is grizli's flat-f_lambda model computed from ``REF`` in e-/s (REF's
  ``PHOTFLAM`` card is 1), so it is 1/PHOTFLAM ~ 1e19 times too large; it is multiplied by the
  direct filter's PHOTFLAM (see :func:`_model_scale`), after which it matches the observed
  continuum within a factor of 2 (it is a flat spectrum, not a fit).
* ``TRACE.trace`` is the trace centre in FITS 1-based rows: it equals, to 2e-6 pixel, the row
  where the ``BeamLinear2D`` world coordinate "Trace" of the SCI header (alternate WCS ``E``)
  vanishes, and grizli's own ``MODEL`` of the object peaks 0.9-1.1 rows below it.  The 0-based
  trace centre is therefore ``trace - 1``.
* ``TRACE.sensitivity`` is the aXe sensitivity averaged over each pixel's wavelength bin
  *times the pixel width in Angstrom*: (e-/s per pixel) per (erg/s/cm^2/Angstrom).  Its ratio
  to :meth:`~ohmap.io.sensitivity.SensitivityCurve.per_pixel` of the curve named by
  ``CONFFILE`` is the dispersion (25.0097 A for G102, 47.4087 A for G141) to 1e-5.  So
  ``f_lambda = counts / sensitivity`` here; dividing by the dispersion again, as one would with
  the bare aXe curve, would be 25-47 times too small.
* The older layout (2020, no MODEL/TRACE) still carries the ``BeamLinear2D`` WCS, which for the
  WFC3/IR aXe configurations (trace and wavelength linear in the dispersion offset) reproduces
  the TRACE wavelengths to 1e-3 A and the trace to 2e-6 pixel.  Such files are read when a
  ``calibration_dir`` supplies the sensitivity. They have no continuum model: ``continuum``
  is zero and ``meta['has_continuum_model']`` is False, so that the line maps fit their own
  (:mod:`ohmap.linemaps.continuum`) rather than take zero for a model.
* No PA card: grizli computes the dispersion PA from the exposure's WCS (``CD`` matrix) plus
  the tilt of the trace, rounded to whole degrees to group exposures.  The same is done here,
  which reproduces the 75.0 (G102) and 74.0 (G141) of the matching ``*.stack.fits``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ohmap.errors import InputError
from ohmap.io.sensitivity import (
    FLAMBDA_UNIT_CGS,
    SENSITIVITY_FLOOR,
    read_axe_sensitivity,
    sensitivity_file_from_conf,
)

from .grisms import get_grism
from .grizli_stack import WFC3_IR_PIXEL_SCALE, galaxy_of, open_grizli_file
from .spectrum import Spectrum2D, pa_v3_from_dispersion_pa

_IMAGES = ("SCI", "ERR", "DQ", "CONTAM")
#: PHOTFLAM (erg/s/cm^2/A per e-/s) of WFC3/IR direct filters, grizli's ``photflam_list``; used
#: only to scale a MODEL computed from a REF image in e-/s (see :func:`_model_scale`).
DIRECT_PHOTFLAM = {
    "F098M": 6.0501324882418389e-20,
    "F105W": 3.038658152508547e-20,
    "F110W": 1.5274130068787271e-20,
    "F125W": 2.2483414275260141e-20,
    "F140W": 1.4737154005353565e-20,
    "F160W": 1.9275637653833683e-20,
}
# Sensitivities from TRACE and from the aXe curve agree to 1e-5 in the real file; a few per cent
# means another calibration version, worth a warning but not a refusal.
_SENS_TOLERANCE = 0.02
# Interpolation weights below this are treated as zero, so an exactly integer shift does not
# drag in (and get flagged by) a neighbour with no weight.
_EPS = 1e-9


def read_grizli_beams(
    path: str | os.PathLike,
    galaxy: str | None = None,
    calibration_dir: str | os.PathLike | None = None,
) -> list[Spectrum2D]:
    """Read a grizli beams file into rectified 2D spectra, one per grism and dispersion PA.

    Each exposure is converted to flux density, then rectified: every column is shifted along
    the rows by linear interpolation so that the trace centre falls on the central row
    ``c = ny // 2`` of an output with ``2 * (ny // 2) + 1`` rows (odd, so a central row exists
    and ``(n - 1) / 2`` is the trace, as in ohmap's frame convention).  The variance is
    propagated with the squared weights; an output pixel is bad (``error = inf``) when any input
    pixel with non-zero weight is bad or outside the cutout.  Linear interpolation correlates
    neighbouring rows (the per-pixel variance is exact, the covariance is not kept), and it
    smooths the spatial profile by at most half a pixel.  Exposures of the same grism and PA are
    resampled (linearly in wavelength, same rules) onto the first one's wavelength grid and
    combined with inverse-variance weights.

    Parameters
    ----------
    path : str or os.PathLike
        The ``*.beams.fits`` file.
    galaxy : str, optional
        Galaxy identifier; defaults to the primary header ``ID`` as five digits (``'00152'``).
    calibration_dir : str or os.PathLike, optional
        Folder with the aXe ``.conf`` files named by the ``CONFFILE`` cards and the sensitivity
        curves they list.  Needed only for files without TRACE extensions; with TRACE it is
        used to cross-check the file's sensitivity (a warning if they differ by > 2%).

    Returns
    -------
    list of Spectrum2D
        In order of first appearance.  ``science`` (observed, neighbours included), ``error``,
        ``contamination`` (CONTAM) and ``continuum`` (MODEL, scaled to e-/s where it is in
        direct-image units; zero without MODEL, when ``meta['has_continuum_model']`` is
        False) are in
        1e-17 erg/s/cm^2/Angstrom per pixel, ``f = counts / sensitivity`` with the per-pixel
        sensitivity of TRACE; ``error`` is ``inf`` where DQ != 0, ERR <= 0 or non-finite, SCI
        non-finite, outside the cutout after the shift, or where the sensitivity is below 1e-3
        of its peak.  ``wavelength`` (vacuum Angstrom) is the TRACE wavelength per column.
        ``pixel_scale`` is 0.128 arcsec.  ``dispersion_pa`` is grizli's whole-degree PA;
        ``pa_v3 = dispersion_pa + 45``.  ``direct_image`` (REF, e-/s of the reference image)
        and ``segmentation`` (SEG) are the first exposure's stamps, not rectified: detector
        orientation, rows across and columns along the dispersion like the spectrum, with the
        object centroid at 0-based ``meta['direct_object_row']``/``['direct_object_col']``
        (``ny/2 - 1 - YCENTER``), which maps to the spectrum's central row.  ``exposure_time``
        is the sum over the combined exposures.  ``meta`` holds the exposure files, exact PAs,
        layout, trace rows (0-based, before the shift), sensitivity source, conversion
        (``counts_per_flambda``: e-/s per pixel for 1e-17 erg/s/cm^2/A), MODEL scaling, the
        ``sky_residual``, ``has_continuum_model`` (every exposure has MODEL) and
        ``pa_label_from`` (how the PA label was derived).

    Raises
    ------
    InputError
        Naming the file and the extension (HDU index and exposure) for: a missing or non-FITS
        file, primary cards missing, an extension count that does not match ``NEXTnnnn``, a
        missing SCI/ERR/DQ/CONTAM, mismatched shapes, a TRACE table without its columns or of
        the wrong length, wavelengths not strictly increasing, negative or non-finite
        sensitivities, missing WCS cards, an unknown grism, and an exposure without TRACE that
        cannot be calibrated from its header (see ``calibration_dir``).
    """
    path = Path(path)
    hdul = open_grizli_file(path, "beams")
    with hdul:
        primary = hdul[0].header
        galaxy = galaxy_of(hdul, path, galaxy)
        exposures = [
            _read_exposure(path, primary, i, hdus, calibration_dir)
            for i, hdus in enumerate(_split_exposures(path, hdul))
        ]
    groups: dict[tuple[str, float], list[dict]] = {}
    for exp in exposures:
        groups.setdefault((exp["grism"], exp["pa"]), []).append(exp)
    return [
        _combine(path, galaxy, primary, grism, pa, exps) for (grism, pa), exps in groups.items()
    ]


def _split_exposures(path: Path, hdul) -> list[list[tuple[int, object]]]:
    """HDUs of each exposure, using the primary header's COUNT and NEXTnnnn."""
    primary = hdul[0].header
    if "COUNT" not in primary:
        raise InputError(path, "primary header has no COUNT card: not a grizli beams file")
    out, start = [], 1
    for i in range(int(primary["COUNT"])):
        key = f"NEXT{i:04d}"
        if key not in primary:
            raise InputError(path, f"primary header has no {key} card (COUNT = {primary['COUNT']})")
        stop = start + int(primary[key])
        if stop > len(hdul):
            raise InputError(
                path,
                f"{key} = {primary[key]} extensions for exposure {i}, but the file ends "
                f"at HDU {len(hdul) - 1}",
            )
        out.append([(j, hdul[j]) for j in range(start, stop)])
        start = stop
    if start != len(hdul):
        raise InputError(
            path, f"NEXTnnnn cards account for HDUs 1-{start - 1}, the file has {len(hdul) - 1}"
        )
    return out


def _read_exposure(path, primary, i, hdus, calibration_dir) -> dict:
    exts = {str(hdu.header.get("EXTNAME", "")).strip().upper(): (j, hdu) for j, hdu in hdus}
    name = str(primary.get(f"FILE{i:04d}", f"exposure {i}"))
    where = f"exposure {i} ({name})"
    if len(exts) != len(hdus):
        names = [str(hdu.header.get("EXTNAME", "")).strip() for _, hdu in hdus]
        raise InputError(path, f"{where} has repeated extension names: {', '.join(names)}")
    for key in _IMAGES:
        if key not in exts:
            raise InputError(path, f"{where} has no {key} extension")

    def image(key, shape=None):
        j, hdu = exts[key]
        if hdu.data is None or np.ndim(hdu.data) != 2:
            raise InputError(path, f"{key} extension (HDU {j}) of {where} is not a 2D image")
        data = np.asarray(hdu.data, dtype=float)
        if shape is not None and data.shape != shape:
            raise InputError(
                path,
                f"{key} extension (HDU {j}) of {where} has shape {data.shape}, SCI has {shape}",
            )
        return data

    sci_index, sci_hdu = exts["SCI"]
    header = sci_hdu.header
    sci = image("SCI")
    nx = sci.shape[1]
    err, dq, contam = (image(k, sci.shape) for k in ("ERR", "DQ", "CONTAM"))
    model = image("MODEL", sci.shape) if "MODEL" in exts else np.zeros_like(sci)
    grism_name = header.get("FILTER", primary.get(f"GRIS{i:04d}"))
    try:
        grism = get_grism(grism_name, path).name
    except InputError as exc:
        raise InputError(
            path, f"SCI extension (HDU {sci_index}) of {where}: {exc.problem}"
        ) from exc

    if "TRACE" in exts:
        wave, trace, sens, source = _trace_table(path, exts["TRACE"], where, nx)
        if calibration_dir is not None:
            _cross_check(path, header, where, wave, sens, calibration_dir)
    else:
        wave, trace, sens, source = _trace_from_header(
            path, header, sci_index, where, nx, calibration_dir
        )
    bad = (dq != 0) | ~np.isfinite(sci) | ~np.isfinite(err) | (err <= 0)
    for arr in (sci, err, contam, model):
        arr[~np.isfinite(arr)] = 0.0

    ref = exts["REF"][1] if "REF" in exts else None
    model_scale, model_note = _model_scale(path, model, err, bad, ref, header, where)
    direct_object = None
    if ref is not None and ref.data is not None:
        # grizli cuts the stamp so that the object centroid is at ny/2 - 1 - YCENTER (0-based).
        direct_object = tuple(
            ref.data.shape[axis] / 2 - 1 - float(ref.header.get(key, header.get(key, 0.0)))
            for axis, key in ((0, "YCENTER"), (1, "XCENTER"))
        )
    pa_exact = _dispersion_pa(path, header, sci_index, where, trace)
    return {
        "file": name,
        "grism": grism,
        "where": where,
        # grizli groups exposures by the PA rounded to whole degrees (get_dispersion_PA).
        "pa_exact": pa_exact,
        "pa": float(np.round(pa_exact)) % 360.0,
        "wave": wave,
        "trace": trace,
        "sens": sens,
        "sens_source": source,
        "sci": sci,
        "var": err**2,
        "bad": bad,
        "contam": contam,
        "model": model * model_scale,
        "has_model": "MODEL" in exts,
        "model_scale": model_scale,
        "model_note": model_note,
        "ref": None if ref is None else np.asarray(ref.data),
        "seg": None if "SEG" not in exts else np.asarray(exts["SEG"][1].data),
        "direct_object": direct_object,
        "exptime": header.get("EXPTIME"),
        "conf": header.get("CONFFILE"),
    }


def _model_scale(path, model, err, bad, ref, header, where) -> tuple[float, str]:
    """Factor turning MODEL into e-/s, and why.

    grizli's default (flat f_lambda) model takes the REF pixel values as f_lambda in
    erg/s/cm^2/A; when REF is in e-/s (its PHOTFLAM card is 1) the model comes out
    1/PHOTFLAM ~ 1e19 times too large (peaks of 6e17 against ERR ~ 0.03 e-/s in the real file).
    No real object reaches 1e8 sigma per pixel, so that separates the two cases by 10 orders of
    magnitude; the scaled model then matches the data's continuum within a factor of 2.
    """
    good = ~bad & (err > 0)
    if not model.any() or not good.any():
        return 1.0, "MODEL taken as e-/s"
    if np.max(np.abs(model)) < 1e8 * np.median(err[good]):
        return 1.0, "MODEL taken as e-/s"
    refh = ref.header if ref is not None else {}
    filt = str(refh.get("FILTER", header.get("DFILTER", ""))).strip().upper()
    photflam = float(refh.get("PHOTFLAM", 1.0) or 1.0)
    if photflam == 1.0:
        photflam = DIRECT_PHOTFLAM.get(filt, np.nan)
    if not np.isfinite(photflam):
        warnings.warn(
            f"{path}: MODEL of {where} is in direct-image units (peak {np.max(model):.3g}) and "
            f"the PHOTFLAM of direct filter {filt!r} is unknown; continuum set to zero",
            stacklevel=4,
        )
        return 0.0, f"MODEL in REF units, PHOTFLAM of {filt!r} unknown: dropped"
    return photflam, (
        f"MODEL in REF units (flat f_lambda model): multiplied by PHOTFLAM {photflam:.4g} of {filt}"
    )


def _trace_table(path, ext, where, nx):
    """Wavelength, 0-based trace row and per-pixel sensitivity from a TRACE table."""
    j, hdu = ext
    columns = getattr(hdu, "columns", None)
    names = {} if columns is None else {n.strip().lower(): n for n in columns.names}
    cols = []
    for col in ("wavelength", "trace", "sensitivity"):
        if col not in names:
            raise InputError(path, f"TRACE extension (HDU {j}) of {where} has no column {col!r}")
        cols.append(np.asarray(hdu.data[names[col]], dtype=float))
    wave, trace, sens = cols
    if wave.size != nx:
        raise InputError(
            path, f"TRACE extension (HDU {j}) of {where} has {wave.size} rows, SCI has {nx} columns"
        )
    what = f"TRACE extension (HDU {j}) of {where}"
    _check_axis(path, what, wave, trace)
    if not np.all(np.isfinite(sens)) or np.any(sens < 0):
        raise InputError(path, f"{what}: column 'sensitivity' has negative or non-finite values")
    # TRACE rows are FITS 1-based (module notes); ohmap indexes rows from 0.
    return wave, trace - 1.0, sens, "TRACE extension"


def _check_axis(path, what, wave, trace):
    if not np.all(np.isfinite(wave)) or np.any(np.diff(wave) <= 0):
        raise InputError(path, f"{what}: wavelengths are not finite and strictly increasing")
    if not np.all(np.isfinite(trace)):
        raise InputError(path, f"{what}: trace has non-finite values")


def _trace_from_header(path, header, j, where, nx, calibration_dir):
    """Wavelength, trace and sensitivity of the pre-TRACE layout: BeamLinear2D WCS + aXe curve."""
    keys = ("CRPIX1E", "CRPIX2E", "CRVAL1E", "CRVAL2E")
    missing = [k for k in keys if k not in header]
    # The 2020 files write PCi_jE with CDELTiE = 1, grizli 1.14.3 CDi_jE as well.
    cd = {}
    for key in ("1_1", "2_1"):
        if f"CD{key}E" in header:
            cd[key] = float(header[f"CD{key}E"])
        elif f"PC{key}E" in header:
            cd[key] = float(header[f"PC{key}E"]) * float(header.get(f"CDELT{key[0]}E", 1.0))
        else:
            missing.append(f"CD{key}E")
    if missing or str(header.get("INSTRUME", "")).strip() != "WFC3":
        raise InputError(
            path,
            f"{where} has no TRACE extension and its SCI header (HDU {j}) has no WFC3 "
            f"BeamLinear2D WCS ({', '.join(missing) or 'INSTRUME is not WFC3'}): this beams "
            "layout (2020, without MODEL/TRACE) cannot be rectified by ohmap; write the beams "
            "with grizli's MultiBeam.write_master_fits including MODEL and TRACE extensions",
        )
    if calibration_dir is None:
        raise InputError(
            path,
            f"{where} has no TRACE extension (2020 beams layout without MODEL/TRACE): its "
            "sensitivity is not in the file; pass calibration_dir= the folder with "
            f"{_conf_name(header) or 'the aXe .conf file'} and its sensitivity curves, or "
            "write the beams with grizli's MultiBeam.write_master_fits including TRACE",
        )
    dx = np.arange(nx) + 1 - header["CRPIX1E"]
    wave = header["CRVAL1E"] + cd["1_1"] * dx
    # "Trace" world coordinate = CRVAL2E + CD2_1E dx + (row_1based - CRPIX2E); it is 0 on the trace.
    trace = header["CRPIX2E"] - header["CRVAL2E"] - cd["2_1"] * dx - 1.0
    _check_axis(path, f"BeamLinear2D WCS of the SCI extension (HDU {j}) of {where}", wave, trace)
    curve = _curve(path, header, where, calibration_dir)
    return wave, trace, curve.per_pixel(wave) * np.gradient(wave), curve.source


def _conf_name(header) -> str | None:
    """Base name of the aXe configuration file of an exposure."""
    if "CONFFILE" in header:
        return Path(str(header["CONFFILE"]).strip()).name
    if "DFILTER" in header and "FILTER" in header:
        # The 2020 files lack CONFFILE; this is the name grizli gives WFC3/IR configurations.
        return f"{str(header['FILTER']).strip()}.{str(header['DFILTER']).strip()}.V4.32.conf"
    return None


def _curve(path, header, where, calibration_dir):
    name = _conf_name(header)
    if name is None:
        raise InputError(path, f"SCI extension of {where} has neither CONFFILE nor DFILTER")
    conf = Path(calibration_dir) / name
    if not conf.is_file():
        raise InputError(
            path,
            f"configuration file {conf.name} (for {where}) not found in "
            f"calibration_dir {calibration_dir}",
        )
    beam = str(header.get("BEAM", "A")).strip() or "A"
    return read_axe_sensitivity(sensitivity_file_from_conf(conf, beam))


def _cross_check(path, header, where, wave, sens, calibration_dir):
    expected = _curve(path, header, where, calibration_dir).per_pixel(wave) * np.gradient(wave)
    use = expected > 0.1 * expected.max()
    worst = float(np.max(np.abs(sens[use] / expected[use] - 1))) if use.any() else np.inf
    if worst > _SENS_TOLERANCE:
        warnings.warn(
            f"{path}: TRACE sensitivity of {where} differs from the aXe curve in "
            f"{calibration_dir} by up to {worst:.1%}; using the file's (it made MODEL)",
            stacklevel=4,
        )


def _dispersion_pa(path, header, j, where, trace) -> float:
    """PA (deg E of N) of the pixel direction along the trace, from the SCI header's CD matrix.

    grizli adds the trace tilt to the PA of +x; taking the direction (1, slope) through the CD
    matrix is the same for WFC3's parity and also right for a flipped one.
    """
    for key in ("CD1_1", "CD1_2", "CD2_1", "CD2_2"):
        if key not in header:
            raise InputError(path, f"SCI extension (HDU {j}) of {where} has no {key} card")
    cd = np.array([[header["CD1_1"], header["CD1_2"]], [header["CD2_1"], header["CD2_2"]]])
    slope = np.polyfit(np.arange(trace.size), trace, 1)[0]
    east, north = cd @ np.array([1.0, slope])
    return float(np.degrees(np.arctan2(east, north)) % 360.0)


def _shift_rows(arrays, var, bad, src):
    """Sample ``arrays`` (list of (ny, nx)) at fractional rows ``src`` (n_out, nx), linearly.

    Returns the sampled arrays, the propagated variance and the bad mask.
    """
    ny = var.shape[0]
    k = np.floor(src).astype(int)
    f = src - k
    cols = np.broadcast_to(np.arange(src.shape[1]), src.shape)
    out_bad = np.zeros(src.shape, dtype=bool)
    out = [np.zeros(src.shape) for _ in arrays]
    out_var = np.zeros(src.shape)
    for rows, w in ((k, 1.0 - f), (k + 1, f)):
        used = w > _EPS
        inside = (rows >= 0) & (rows < ny)
        r = np.clip(rows, 0, ny - 1)
        out_bad |= used & (~inside | bad[r, cols])
        w = np.where(used & inside, w, 0.0)
        for o, a in zip(out, arrays):
            o += w * a[r, cols]
        out_var += w**2 * var[r, cols]
    return out, out_var, out_bad


def _rectify(exp, n_out):
    """Flux-calibrated, rectified images of one exposure on its own wavelength grid."""
    c = n_out // 2
    src = exp["trace"][None, :] + (np.arange(n_out) - c)[:, None]
    (sci, contam, model), var, bad = _shift_rows(
        [exp["sci"], exp["contam"], exp["model"]], exp["var"], exp["bad"], src
    )
    sens = exp["sens"]
    usable = (sens > 0) & (sens >= SENSITIVITY_FLOOR * sens.max())
    # counts = f_lambda[erg/s/cm^2/A] * sens (dispersion included); ohmap's unit is 1e-17 of it.
    per_unit = sens * FLAMBDA_UNIT_CGS
    safe = np.where(usable, per_unit, 1.0)
    bad |= ~usable[None, :]
    images = [np.where(usable, a / safe, 0.0) for a in (sci, contam, model)]
    return images, var / safe**2, bad, per_unit


def _regrid(wave_in, wave_out, images, var, bad):
    """Resample (n, nx_in) images onto ``wave_out`` columns, linearly, like :func:`_shift_rows`."""
    # Wavelengths outside the input grid map to a column far outside, hence bad.
    src = np.interp(wave_out, wave_in, np.arange(wave_in.size), left=-10.0, right=wave_in.size + 10)
    src = np.broadcast_to(src[:, None], (src.size, var.shape[0]))
    out, v, b = _shift_rows([a.T for a in images], var.T, bad.T, src)
    return [o.T for o in out], v.T, b.T


def _combine(path, galaxy, primary, grism, pa, exps) -> Spectrum2D:
    """Inverse-variance mean of the rectified exposures on the first one's wavelength grid."""
    n_out = 2 * (max(e["sci"].shape[0] for e in exps) // 2) + 1
    c = n_out // 2
    wave = exps[0]["wave"]
    sums = np.zeros((4, n_out, wave.size))  # weight, science, contamination, continuum
    plain = np.zeros((2, n_out, wave.size))  # unweighted models, for pixels without data
    per_unit = None
    for exp in exps:
        images, var, bad, factor = _rectify(exp, n_out)
        if per_unit is None:
            per_unit = factor
        else:
            images, var, bad = _regrid(exp["wave"], wave, images, var, bad)
        bad |= var <= 0
        w = np.where(bad, 0.0, 1.0 / np.where(bad, 1.0, var))
        sums[0] += w
        for k, image in enumerate(images):
            sums[k + 1] += w * image
        plain += np.array(images[1:]) / len(exps)
    weight = sums[0]
    good = weight > 0
    safe = np.where(good, weight, 1.0)
    science = np.where(good, sums[1] / safe, 0.0)
    contamination, continuum = (np.where(good, sums[k] / safe, plain[k - 2]) for k in (2, 3))
    far = good & (np.abs(np.arange(n_out) - c) >= 8)[:, None]
    first = exps[0]
    # Without MODEL (2020 layout) there is no continuum model: zero is not one, and the line
    # maps fit their own (ohmap.linemaps.continuum); a mean of models and zeros would be neither.
    has_model = all(e["has_model"] for e in exps)
    if not has_model:
        continuum = np.zeros_like(continuum)
    meta = {
        "format": "grizli_beams",
        "exposures": [e["file"] for e in exps],
        "dispersion_pa_exact": [e["pa_exact"] for e in exps],
        "layout": "TRACE" if first["sens_source"] == "TRACE extension" else "2020 (no TRACE)",
        "has_model": has_model,
        "has_continuum_model": has_model,
        "pa_label_from": _pa_label_note(grism, exps),
        "model_scale": [e["model_scale"] for e in exps],
        "model_note": [e["model_note"] for e in exps],
        "conf": first["conf"],
        "ra": primary.get("RA"),
        "dec": primary.get("DEC"),
        "sensitivity_source": [e["sens_source"] for e in exps],
        "trace_rows": [e["trace"] for e in exps],
        "trace_center_row": c,
        "rectification": "per-column linear interpolation along rows (variance with squared "
        "weights, bad if a weighted input pixel is bad); exposures resampled "
        "linearly in wavelength onto the first one's grid, inverse-variance mean",
        "flux_conversion": "1e-17 erg/s/cm^2/A = (e-/s) / (sensitivity * 1e-17), sensitivity "
        "per pixel, dispersion included, (e-/s)/(erg/s/cm^2/A)",
        "counts_per_flambda": per_unit,
        # grizli's stack removes a sky pedestal the beams file does not record; this is what is
        # left in science - contamination at >= 8 rows from the trace (median).
        "sky_residual": float(np.median((science - contamination)[far])) if far.any() else None,
        "direct_object_row": None if first["direct_object"] is None else first["direct_object"][0],
        "direct_object_col": None if first["direct_object"] is None else first["direct_object"][1],
    }
    exptimes = [e["exptime"] for e in exps]
    return Spectrum2D(
        galaxy=galaxy,
        pa_v3=pa_v3_from_dispersion_pa(pa),
        dispersion_pa=float(pa % 360.0),
        grism=grism,
        science=science,
        error=np.where(good, 1.0 / np.sqrt(safe), np.inf),
        contamination=contamination,
        continuum=continuum,
        wavelength=wave,
        pixel_scale=WFC3_IR_PIXEL_SCALE,
        source=str(path),
        exposure_time=None if None in exptimes else float(sum(exptimes)),
        direct_image=first["ref"],
        segmentation=first["seg"],
        meta=meta,
    )


def _pa_label_note(grism, exps) -> str:
    """How the PA label of a group of exposures was derived, for messages and the docs."""
    exact = ", ".join(f"{e['pa_exact']:.2f}" for e in exps)
    pa = exps[0]["pa"]
    return (
        f"{grism}: dispersion PA {exact} deg (SCI header CD matrix and trace tilt) rounded to "
        f"{pa:g}, PA_V3 = {pa:g} + 45 = {pa_v3_from_dispersion_pa(pa):g}"
    )
