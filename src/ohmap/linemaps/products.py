"""FITS and ECSV products of the line-map step (extraction, alignment, stacking).

Conventions shared by every product here:

* line fluxes are per pixel, in ``1e-17 erg/s/cm^2`` (``BUNIT`` says so);
* a pixel without data has flux 0 and error ``inf`` (never NaN), so a map can be summed
  without masking and its missing pixels are still unambiguous;
* maps are on the frame of their PA: ``+x`` along the dispersion at position angle ``PA_X``
  (degrees east of north), ``+y`` at ``PA_X + 90``; stacked maps are on the reference PA's frame;
* provenance that a person would read is in header cards; everything needed to rebuild the
  Python objects exactly is also kept as JSON (``PROVJSON``), because FITS cards cannot hold NaN.
"""

from __future__ import annotations

import json
import os

import numpy as np
from astropy import units as u
from astropy.io import fits
from astropy.table import Table

from ohmap import __version__
from ohmap.errors import InputError
from ohmap.io.atomic import write_fits_atomic, write_table_atomic
from ohmap.io.serialize import card_value, dumps
from ohmap.resample import FrameTransform

from .align import AlignmentResult
from .maps import Extraction, LineMap, StackedMap
from .noise_covariance import NEIGHBOUR_LAGS

#: Unit of line flux per pixel and of integrated line fluxes.
LINE_FLUX_UNIT = "1e-17 erg / (s cm2)"


def _image(data, name, content, unit=None):
    hdu = fits.ImageHDU(np.asarray(data), name=name)
    hdu.header["CONTENT"] = content
    if unit:
        hdu.header["BUNIT"] = unit
    return hdu


def _frame_cards(header, dispersion_pa: float, pixel_scale: float):
    header["PA_X"] = (float(dispersion_pa), "[deg] E of N of the map +x axis (dispersion)")
    header["PA_Y"] = (float((dispersion_pa + 90.0) % 360.0), "[deg] E of N of the map +y axis")
    header["PIXSCALE"] = (float(pixel_scale), "[arcsec/pixel] map pixel scale")


# ----------------------------------------------------------------------------------------------
# Extraction (galaxy x PA x grism)
# ----------------------------------------------------------------------------------------------


def write_extraction(extraction: Extraction, path, source: str = "") -> None:
    """Write the maps, footprint, cleaned spectrum and decisions of one PA-grism.

    Extensions: ``FOOTPRINT`` (1 = object), ``DIRECT`` (direct image on the map grid, when
    present), ``CLEANED``/``CLEANERR`` (spectrum after contamination and continuum removal),
    per extracted line ``FLUX_<line>``, ``ERR_<line>``, ``BLEND_<line>`` (1 = may hold flux of
    another line), ``LINES`` (column of each line on the spectrum) and ``DECISIONS`` (one row
    per requested line: extracted, not covered or rejected, and why).
    """
    ex = extraction
    primary = fits.PrimaryHDU()
    h = primary.header
    h["OBJECT"] = (ex.galaxy, "galaxy id")
    h["PA_LABEL"] = (ex.pa, "PA_V3 label")
    h["GRISM"] = (ex.grism, "WFC3/IR grism")
    h["REDSHIFT"] = (card_value(ex.redshift), "catalogue redshift used to place the lines")
    _frame_cards(h, ex.dispersion_pa, ex.pixel_scale)
    h["PA_DISP"] = (float(ex.dispersion_pa), "[deg] E of N of the dispersion axis")
    h["MAPLINES"] = (",".join(ex.maps), "lines with a map in this file")
    h["SOURCE"] = (os.path.basename(str(source)), "input spectrum product")
    h["OHMAPVER"] = (__version__, "ohmap version")
    h["COMMENT"] = "Line flux per pixel in 1e-17 erg/s/cm2; ERR = inf where there are no data."
    hdus = [
        primary,
        _image(ex.footprint.astype(np.uint8), "FOOTPRINT", "object footprint (1 = object)"),
    ]
    if ex.direct_image is not None:
        hdus.append(
            _image(
                np.asarray(ex.direct_image, dtype=float),
                "DIRECT",
                "direct-image stamp, same orientation as the spectrum",
            )
        )
    if ex.cleaned is not None:
        hdus.append(
            _image(
                ex.cleaned,
                "CLEANED",
                "spectrum minus contamination and rescaled continuum, line flux per pixel",
                LINE_FLUX_UNIT,
            )
        )
        hdus.append(
            _image(
                ex.cleaned_error,
                "CLEANERR",
                "1-sigma error of CLEANED; inf = no data",
                LINE_FLUX_UNIT,
            )
        )
    for name, m in ex.maps.items():
        flux = _image(m.flux, f"FLUX_{name}", f"{name} line flux per pixel", LINE_FLUX_UNIT)
        fh = flux.header
        fh["LINE"] = (name, "map line")
        fh["XPHASE"] = (float(m.x_phase), "[pixel] sub-pixel phase of the grid along +x")
        fh["COLUMN"] = (float(m.column), "[pixel] spectrum column of the line centre")
        fh["WAVE"] = (float(m.wavelength), "[Angstrom] observed vacuum wavelength")
        fh["INTFLUX"] = (card_value(m.integrated_flux), "[1e-17 erg/s/cm2] flux in the footprint")
        fh["INTERR"] = (card_value(m.integrated_error), "[1e-17 erg/s/cm2] its 1-sigma error")
        for key in (
            "method",
            "contour_level",
            "contour_clean",
            "deblend_note",
            "residual_flag",
            "residual_z",
            "coverage",
        ):
            if key in m.info:
                fh[f"HIERARCH {key.upper()}"] = card_value(m.info[key])
        fh["PROVJSON"] = dumps(m.info)  # full provenance; too long for a comment
        hdus += [
            flux,
            _image(
                m.error, f"ERR_{name}", f"1-sigma error of {name}; inf = no data", LINE_FLUX_UNIT
            ),
            _image(
                m.blended.astype(np.uint8), f"BLEND_{name}", "1 = may hold flux of another line"
            ),
        ]
    names = list(ex.columns)
    lines = fits.BinTableHDU(
        Table({"line": names, "column": [float(ex.columns[n]) for n in names]}), name="LINES"
    )
    lines.header["TUNIT2"] = "pixel"
    decisions = Table(
        {
            "line": [d["line"] for d in ex.decisions],
            "status": [d["status"] for d in ex.decisions],
            "reason": [d["reason"] for d in ex.decisions],
            "details": [
                dumps({k: v for k, v in d.items() if k not in ("line", "status", "reason")})
                for d in ex.decisions
            ],
        }
    )
    hdus += [lines, fits.BinTableHDU(decisions, name="DECISIONS")]
    write_fits_atomic(fits.HDUList(hdus), path)


def read_extraction(path) -> Extraction:
    """Read a product written by :func:`write_extraction`."""
    try:
        hdul = fits.open(path)
    except OSError as error:
        raise InputError(path, f"not a readable FITS file ({error})") from None
    with hdul:
        h = hdul[0].header
        if "MAPLINES" not in h or "FOOTPRINT" not in hdul:
            raise InputError(
                path, "not an ohmap line-map extraction (no MAPLINES card or FOOTPRINT extension)"
            )
        maps = {}
        for name in [n for n in h["MAPLINES"].split(",") if n]:
            fh = hdul[f"FLUX_{name}"].header
            maps[name] = LineMap(
                name,
                np.asarray(hdul[f"FLUX_{name}"].data, dtype=float),
                np.asarray(hdul[f"ERR_{name}"].data, dtype=float),
                np.asarray(hdul[f"BLEND_{name}"].data).astype(bool),
                float(fh["XPHASE"]),
                float(fh["COLUMN"]),
                float(fh["WAVE"]),
                float(fh["INTFLUX"]),
                float(fh["INTERR"]),
                json.loads(fh["PROVJSON"]),
            )
        decisions = []
        for row in hdul["DECISIONS"].data:
            d = dict(line=str(row["line"]), status=str(row["status"]), reason=str(row["reason"]))
            d.update(json.loads(row["details"]))
            decisions.append(d)
        columns = {str(r["line"]): float(r["column"]) for r in hdul["LINES"].data}

        def get(name):
            return np.asarray(hdul[name].data, dtype=float) if name in hdul else None

        return Extraction(
            galaxy=str(h["OBJECT"]),
            pa=str(h["PA_LABEL"]),
            grism=str(h["GRISM"]),
            dispersion_pa=float(h["PA_DISP"]),
            pixel_scale=float(h["PIXSCALE"]),
            footprint=np.asarray(hdul["FOOTPRINT"].data).astype(bool),
            maps=maps,
            decisions=decisions,
            direct_image=get("DIRECT"),
            cleaned=get("CLEANED"),
            cleaned_error=get("CLEANERR"),
            columns=columns,
            redshift=float(h["REDSHIFT"]),
        )


# ----------------------------------------------------------------------------------------------
# Alignment (galaxy x PA x grism)
# ----------------------------------------------------------------------------------------------


def alignment_table(
    galaxy: str, pa: str, grism: str, reference: str, result: AlignmentResult
) -> Table:
    """One-row table of an alignment fit, with units."""
    t = result.transform
    table = Table(
        {
            "galaxy_id": [galaxy],
            "pa": [pa],
            "grism": [grism],
            "reference": [reference],
            "line": [result.line],
            "reference_line": [result.reference_line],
            "line_pairs": [",".join(result.lines)],
            "shift_x": [t.shift_x],
            "shift_x_error": [result.shift_x_error],
            "shift_y": [t.shift_y],
            "shift_y_error": [result.shift_y_error],
            "rotation": [t.rotation_deg],
            "nominal_rotation": [result.nominal_rotation_deg],
            "rotation_correction": [result.rotation_correction_deg],
            "rotation_correction_error": [result.rotation_error_deg],
            "rotation_fixed": [bool(result.rotation_fixed)],
            "nccf": [result.nccf],
            "nccf_expected": [result.nccf_expected],
            "status": [result.status],
        }
    )
    for name in ("shift_x", "shift_x_error", "shift_y", "shift_y_error"):
        table[name].unit = "pixel"
    for name in (
        "rotation",
        "nominal_rotation",
        "rotation_correction",
        "rotation_correction_error",
    ):
        table[name].unit = "deg"
    table.meta["description"] = (
        "Alignment of one PA-grism's line maps to the reference PA-grism (Wang et al. 2017, Eq. 1): "
        "shift_x along the dispersion, shift_y across it (PA-frame pixels), rotation from the PA "
        "frame to the reference frame = nominal + correction; errors are 1 sigma (NaN when no fit "
        "was kept); rotation_fixed: the correction was not measurable and is held at zero."
    )
    return table


def write_alignment(table: Table, path) -> None:
    write_table_atomic(table, path, format="ascii.ecsv")


def read_alignment(path) -> tuple[dict, AlignmentResult]:
    """The row (as a dict) and the :class:`~ohmap.linemaps.align.AlignmentResult` of an alignment table."""
    table = Table.read(path, format="ascii.ecsv")
    if len(table) != 1:
        raise InputError(path, f"expected one alignment row, found {len(table)}")
    row = {k: (v.item() if hasattr(v, "item") else v) for k, v in zip(table.colnames, table[0])}
    result = AlignmentResult(
        FrameTransform(float(row["rotation"]), float(row["shift_x"]), float(row["shift_y"])),
        float(row["nominal_rotation"]),
        float(row["nccf"]),
        float(row["nccf_expected"]),
        str(row["status"]),
        str(row["line"]),
        str(row["reference_line"]),
        tuple(p for p in str(row["line_pairs"]).split(",") if p),
        float(row["shift_x_error"]),
        float(row["shift_y_error"]),
        float(row["rotation_correction_error"]),
        bool(row["rotation_fixed"]),
    )
    return row, result


# ----------------------------------------------------------------------------------------------
# Stacked maps (galaxy)
# ----------------------------------------------------------------------------------------------


def read_galaxy_maps(map_paths, alignment_paths) -> tuple[dict, dict]:
    """A galaxy's extractions and their alignments, both keyed by ``(pa, grism)``.

    ``map_paths`` and ``alignment_paths`` are paired one to one (the same PA-grism)."""
    extractions, alignments = {}, {}
    for maps_path, alignment_path in zip(map_paths, alignment_paths, strict=True):
        ex = read_extraction(maps_path)
        _, alignments[(ex.pa, ex.grism)] = read_alignment(alignment_path)
        extractions[(ex.pa, ex.grism)] = ex
    return extractions, alignments


def write_stacked_maps(
    path,
    galaxy: str,
    reference: Extraction,
    stacks: dict,
    redshift: float,
    direct=None,
    notes: dict | None = None,
    joint: dict | None = None,
) -> None:
    """Write the stacked line maps of one galaxy on the reference grid.

    Per line: ``FLUX_<line>``, ``ERR_<line>`` (inf where no map contributes) and
    ``NMAPS_<line>`` (number of PA-grism maps in each pixel), ``NCOV_<line>`` (the noise
    covariance of each pixel with its neighbours, one plane per lag ``LAGn``); each ``FLUX`` header lists the
    PA-grism maps that went in (``MAP1``, ``MAP2``, ...), the aperture flux over the reference
    footprint's pixels with data (``APFLUX``, ``APERR``, not corrected for the others) and how
    much of the footprint they are (``APCOVFR``: pixel fraction, ``APLIGHT``: share of the
    direct-image light; divide ``APFLUX`` by ``APLIGHT``, or ``APCOVFR`` without it, for the
    total). Lines of a blend group carry ``JCHOICE`` (the solution adopted, ``joint`` or
    ``stack``), ``JREASON`` (why, with the numbers) and ``BLENDZ`` (the adopted maps' blend
    total minus the integrated one, in errors). ``notes`` (line -> text) records why a line has
    no map; ``joint`` (blend group -> diagnostics of
    :func:`ohmap.linemaps.joint_deblend.joint_deblend`) adds the joint fit's quality and its
    coverage-corrected aperture flux (``JAPFLUX``, ``JAPERR``) to the headers of its lines,
    and, where the per-PA maps were kept, the joint maps as ``JFLUX_<line>``, ``JERR_<line>``.
    """
    primary = fits.PrimaryHDU()
    h = primary.header
    h["OBJECT"] = (galaxy, "galaxy id")
    h["REDSHIFT"] = (float(redshift), "catalogue redshift")
    h["REF_PA"] = (reference.pa, "reference PA_V3 label: the maps' orientation")
    h["REF_GRSM"] = (reference.grism, "grism of the reference map grid")
    _frame_cards(h, reference.dispersion_pa, reference.pixel_scale)
    h["MAPLINES"] = (",".join(stacks), "lines with a stacked map")
    for line, note in sorted((notes or {}).items()):
        h[f"HIERARCH NOMAP {line}"] = note
    h["OHMAPVER"] = (__version__, "ohmap version")
    h["COMMENT"] = (
        "Inverse-variance weighted mean of the aligned, vetted PA-grism maps (Sect. 4.3)."
    )
    h["COMMENT"] = "Line flux per pixel in 1e-17 erg/s/cm2; ERR = inf where no map contributes."
    hdus = [
        primary,
        _image(
            reference.footprint.astype(np.uint8),
            "FOOTPRINT",
            "reference footprint (1 = object): the aperture of APFLUX",
        ),
    ]
    if direct is not None:
        hdus.append(
            _image(
                np.asarray(direct, dtype=float), "DIRECT", "reference direct image on the map grid"
            )
        )
    for line, s in stacks.items():
        flux = _image(s.flux, f"FLUX_{line}", f"stacked {line} line flux per pixel", LINE_FLUX_UNIT)
        fh = flux.header
        fh["LINE"] = (line, "map line")
        fh["NMAPS"] = (len(s.contributors), "number of PA-grism maps stacked")
        for i, label in enumerate(s.contributors, 1):
            fh[f"MAP{i}"] = (label, "PA-grism map in the stack")
        fh["APFLUX"] = (
            card_value(s.aperture_flux),
            "[1e-17 erg/s/cm2] sum over covered FOOTPRINT",
        )
        fh["APERR"] = (card_value(s.aperture_error), "[1e-17 erg/s/cm2] its exact 1-sigma error")
        fh["APCOVFR"] = (
            card_value(s.aperture_coverage),
            "FOOTPRINT pixel fraction summed in APFLUX",
        )
        fh["APLIGHT"] = (
            card_value(s.aperture_light),
            "share of FOOTPRINT's DIRECT light in APFLUX",
        )
        fh["METHOD"] = (s.method, "stack (IV mean of maps) or joint (de-blending)")
        for i, (other, cov) in enumerate(sorted(s.covariance.items()), 1):
            fh[f"COVLINE{i}"] = (other, "line covarying with this one")
            fh[f"COVAP{i}"] = (card_value(cov), "[(1e-17 erg/s/cm2)^2] aperture covariance")
        if s.deblend:
            fh["JCHOICE"] = (s.method, "de-blending adopted: joint or stack (per-PA)")
            fh["JREASON"] = s.deblend
            fh["BLENDZ"] = (card_value(s.blend_z), "[sigma] maps' blend total - integrated")
        extra = []
        for group, diag in (joint or {}).items():
            joint_map = diag.get("maps", {}).get(line)
            if line in group and joint_map is not None:
                jflux, jerr = joint_map.corrected_aperture()
                fh["JAPFLUX"] = (card_value(jflux), "[1e-17 erg/s/cm2] joint, coverage-corrected")
                fh["JAPERR"] = (card_value(jerr), "[1e-17 erg/s/cm2] its 1-sigma error")
                if joint_map is not s:
                    extra = [
                        _image(
                            joint_map.flux,
                            f"JFLUX_{line}",
                            f"joint de-blending of {line}, not adopted (FLUX_{line} JREASON)",
                            LINE_FLUX_UNIT,
                        ),
                        _image(
                            joint_map.error,
                            f"JERR_{line}",
                            f"1-sigma error of JFLUX_{line}; inf = no data",
                            LINE_FLUX_UNIT,
                        ),
                    ]
            if line in group and "residual" in diag and "n_unknowns" in diag:
                fh["JGROUP"] = ("+".join(group), "lines solved together")
                fh["JCHI2DOF"] = (
                    card_value(diag["residual"]["chi2_per_dof"]),
                    "chi2/dof of the joint fit",
                )
                fh["JUNKNOWN"] = (int(diag["n_unknowns"]), "unknown pixels of the joint fit")
                fh["JPRIOR"] = (
                    card_value(diag["prior_sigma"]),
                    "[1e-17 erg/s/cm2] prior width per pixel",
                )
                fh["JVARMETH"] = (str(diag["variance_method"]), "per-pixel error method")
                for k, note in enumerate(diag["notes"], 1):
                    fh[f"HIERARCH JNOTE{k}"] = note
        hdus += [
            flux,
            _image(
                s.error, f"ERR_{line}", f"1-sigma error of {line}; inf = no data", LINE_FLUX_UNIT
            ),
            _image(s.n_maps.astype(np.int16), f"NMAPS_{line}", "number of maps contributing"),
            *_covariance_hdus(s),
            *extra,
        ]
    write_fits_atomic(fits.HDUList(hdus), path)


def _covariance_hdus(s: StackedMap) -> list:
    """``NCOV_<line>``: the noise covariance with the neighbours, one plane per lag."""
    if s.neighbour_covariance is None:
        return []
    cube = np.stack([s.neighbour_covariance[lag] for lag in NEIGHBOUR_LAGS]).astype(np.float32)
    hdu = fits.ImageHDU(cube, name=f"NCOV_{s.line}")
    hdu.header["BUNIT"] = ("1e-34 erg2 / (s2 cm4)", "covariance of two pixels' fluxes")
    hdu.header["CONTENT"] = f"noise covariance of FLUX_{s.line} pixels with their neighbours"
    for i, (dy, dx) in enumerate(NEIGHBOUR_LAGS, 1):
        hdu.header[f"LAG{i}"] = (f"{dy},{dx}", f"plane {i}: partner at (y+{dy}, x{dx:+d})")
    return [hdu]


def _read_covariance(hdul, line, path):
    name = f"NCOV_{line}"
    if name not in hdul:
        return None
    h = hdul[name].header
    lags = [tuple(int(v) for v in str(h.get(f"LAG{i}", "")).split(",")) for i in range(1, 5)]
    if lags != list(NEIGHBOUR_LAGS):
        raise InputError(path, f"{name}: lags {lags} are not {list(NEIGHBOUR_LAGS)}")
    cube = np.asarray(hdul[name].data, dtype=float)
    return {lag: cube[i] for i, lag in enumerate(NEIGHBOUR_LAGS)}


def read_stacked_maps(path) -> dict:
    """Stacked maps of a file written by :func:`write_stacked_maps`: line -> StackedMap, plus the
    primary header under the key ``"header"`` and the footprint under ``"footprint"``."""
    with fits.open(path) as hdul:
        h = hdul[0].header
        out = {
            "header": h.copy(),
            "footprint": np.asarray(hdul["FOOTPRINT"].data).astype(bool),
            "direct": np.asarray(hdul["DIRECT"].data, dtype=float) if "DIRECT" in hdul else None,
        }
        for line in [n for n in h["MAPLINES"].split(",") if n]:
            fh = hdul[f"FLUX_{line}"].header
            contributors = [fh[f"MAP{i}"] for i in range(1, fh["NMAPS"] + 1)]
            covariance = {
                fh[f"COVLINE{i}"]: float(fh[f"COVAP{i}"])
                for i in range(1, 10)
                if f"COVLINE{i}" in fh
            }
            out[line] = StackedMap(
                line,
                np.asarray(hdul[f"FLUX_{line}"].data, dtype=float),
                np.asarray(hdul[f"ERR_{line}"].data, dtype=float),
                np.asarray(hdul[f"NMAPS_{line}"].data, dtype=int),
                contributors,
                float(fh["APFLUX"]),
                float(fh["APERR"]),
                str(fh["METHOD"]),
                covariance,
                # Files written before the coverage was recorded: unknown.
                float(fh.get("APCOVFR", np.nan)),
                float(fh.get("APLIGHT", np.nan)),
                str(fh.get("JREASON", "")),
                float(fh.get("BLENDZ", np.nan)),
                _read_covariance(hdul, line, path),
            )
        return out


def vetting_table(galaxy: str, rows: list) -> Table:
    """Vetting decisions of one galaxy (one row per PA-grism and line), with units."""
    names = [
        "pa",
        "grism",
        "line",
        "status",
        "reason",
        "alignment",
        "integrated_flux",
        "integrated_error",
    ]
    table = (
        Table(
            rows=[[r[n] for n in names] for r in rows],
            names=names,
            dtype=[str, str, str, str, str, str, float, float],
        )
        if rows
        else Table(names=names, dtype=[str, str, str, str, str, str, float, float])
    )
    table.add_column([galaxy] * len(table), name="galaxy_id", index=0)
    table["integrated_flux"].unit = table["integrated_error"].unit = LINE_FLUX_UNIT
    table.meta["description"] = (
        "Which PA-grism line maps went into the stack, and why (not). "
        "integrated_flux: the map's own flux in its footprint."
    )
    return table


def fluxes_table(galaxy: str, redshift: float, rows: list) -> Table:
    """Integrated line fluxes of one galaxy, with units and provenance columns."""
    names = [
        "line",
        "method",
        "n_maps",
        "contributors",
        "flux",
        "flux_error",
        "flux_per_pa",
        "flux_per_pa_error",
        "aperture_flux",
        "aperture_error",
        "aperture_coverage",
        "aperture_light",
        "joint_flux",
        "joint_flux_error",
        "blend_group",
        "deblend_choice",
        "correlation",
        "continuum",
    ]
    table = Table(
        rows=[[r[n] for n in names] for r in rows],
        names=names,
        dtype=[str, str, int, str] + [float] * 10 + [str] * 4,
    )
    table.add_column([galaxy] * len(table), name="galaxy_id", index=0)
    table.add_column([float(redshift)] * len(table), name="redshift", index=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        table["snr"] = table["flux"] / table["flux_error"]
    for name in (
        "flux",
        "flux_error",
        "flux_per_pa",
        "flux_per_pa_error",
        "aperture_flux",
        "aperture_error",
        "joint_flux",
        "joint_flux_error",
    ):
        table[name].unit = LINE_FLUX_UNIT
    for name in ("aperture_coverage", "aperture_light"):
        table[name].unit = u.dimensionless_unscaled
    table.meta["description"] = (
        "Integrated line fluxes (observed, lensed, not dust-corrected; Ha includes [NII]). "
        "flux: the adopted value; for method 'stack' the inverse-variance mean of the accepted "
        "PA-grism maps' own footprint fluxes (flux_per_pa), for method 'joint' the joint multi-PA "
        "de-blending summed over the reference footprint, divided by the covered share "
        "(aperture_light, else aperture_coverage). flux_per_pa is always the per-PA "
        "(contour de-blended) value, joint_flux the joint one (coverage-corrected; NaN where not "
        "run). aperture_flux: the final map summed over the reference-footprint pixels with "
        "data, not corrected (NaN only when none has data); aperture_coverage: the fraction of "
        "footprint pixels those are, aperture_light: the share of the direct-image light they "
        "hold. deblend_choice: for a blend group, which solution was adopted and why, and "
        "whether its maps conserve the blend's flux (docs/linemaps.md). correlation: "
        "correlation coefficient of this line's flux with the other lines of its blend group "
        "(joint solution only; use it for ratios). "
        "continuum: 'model' where every contributing spectrum had a continuum model, else the "
        "PA-grisms whose continuum was fitted in line-free windows."
    )
    return table
