"""Every input checked before any job runs: the configuration, the sample sheet, and the files
they name (units, geometry, coverage).

:func:`check_configuration` reads and validates the settings and the sample sheet (no data
file is opened); :func:`check_input_files` opens every spectrum, lens model, mass map and image
the sheet names, through the same readers the jobs use, and checks what the later stages need of
them: the pixel scale and units the readers accept, the lines that fall in each spectrum's
wavelength range at the galaxy's redshift, a lens model covering the galaxy's map frame, images
that hold the galaxy. The workflow calls both when it starts (``workflow/rules/common.smk``);
``ohmap validate`` calls both and prints the report.

Files below ``results/`` are the workflow's own products (the mock writes its inputs there) and
are checked by the jobs that make them, not here.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ohmap.config import (
    check_samples,
    galaxy_observations,
    inference_settings,
    linemap_settings,
    load_samples,
    reference_observation,
    spectrum_path,
    stage_messages,
    validate_config,
)
from ohmap.errors import InputError
from ohmap.lines import LINES_BY_NAME

from .images import check_sky_image

log = logging.getLogger(__name__)

#: The workflow's output folder: inputs there are made by its own jobs (the mock's).
PRODUCTS = "results"


@dataclass
class InputReport:
    """What the checks of the input files found.

    Attributes
    ----------
    problems : list of str
        Inputs that cannot be used, each naming the file and the field; any one stops the run.
    warnings : list of str
        Inputs that can be used but lose something (e.g. a lens map covering part of a frame).
    notes : list of str
        What was assumed or skipped, for the log.
    """

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def raise_for_problems(self, source) -> None:
        """Raise one :class:`~ohmap.errors.InputError` listing every problem, if there are any."""
        if self.problems:
            count = len(self.problems)
            raise InputError(
                source,
                f"{count} input problem{'s' if count > 1 else ''}:\n  "
                + "\n  ".join(self.problems),
            )


def check_configuration(config: dict, config_source, config_schema, sheet_schema) -> pd.DataFrame:
    """Validate the configuration and the sample sheet; return the sheet.

    Parameters
    ----------
    config : dict
        The configuration (merged, as Snakemake sees it).
    config_source : str or os.PathLike
        The configuration file, named in errors.
    config_schema, sheet_schema : str or os.PathLike
        ``workflow/schemas/config.schema.yaml`` and ``galaxies.schema.yaml``.

    Raises
    ------
    InputError
        Naming the configuration or sample-sheet file, the row and the field.
    """
    validate_config(config, config_schema, config_source)
    calibration_dir = config.get("calibration_dir")
    if calibration_dir is not None and not Path(calibration_dir).is_dir():
        raise InputError(
            config_source,
            f"field 'calibration_dir': {calibration_dir} is not a folder (the aXe *.conf "
            "files' folder; null when no grizli product needs one)",
        )
    seen = {}
    for i, obs in enumerate(config["observations"]):
        key = (obs["pa"], obs["grism"])
        if key in seen:
            raise InputError(
                config_source,
                f"field 'observations.{i}': {obs['pa']}-{obs['grism']} is listed twice "
                f"(also observations.{seen[key]})",
            )
        seen[key] = i
    if (config.get("mock") or {}).get("enabled"):
        for i, obs in enumerate(config["observations"]):
            if "exposure_time" not in obs:
                raise InputError(
                    config_source,
                    f"field 'observations.{i}.exposure_time': the mock needs the exposure time "
                    f"(seconds) of {obs['pa']}-{obs['grism']} to set its noise",
                )
    samples = load_samples(config["samples"], sheet_schema)
    check_samples(samples, config, config["samples"])
    linemap_settings(config, config_source)
    inference_settings(config, config_source)
    return samples


def produced_by_workflow(path) -> bool:
    """True for a path below the workflow's output folder (``results/``), relative or not."""
    path = Path(os.path.abspath(os.fspath(path)))
    return Path(os.path.abspath(PRODUCTS)) in path.parents


def check_input_files(samples: pd.DataFrame, config: dict, sheet) -> InputReport:
    """Open every input file the sample sheet and configuration name, and check it.

    Parameters
    ----------
    samples : pandas.DataFrame
        The sample sheet (:func:`ohmap.config.load_samples`).
    config : dict
        The validated configuration.
    sheet : str or os.PathLike
        The sample sheet's file, named in messages.

    Returns
    -------
    InputReport
        Problems, warnings and notes; nothing is raised here, so that one run lists everything.
    """
    report = InputReport(notes=list(stage_messages(samples, config)))
    lines = [LINES_BY_NAME[n] for n in linemap_settings(config)["extraction"].lines]
    lenses = _LensCache(config)
    skipped = 0
    for gid, row in samples.iterrows():
        where = f"sample sheet {sheet}, galaxy {gid}"
        half_size, skipped_spectra = _check_spectra(gid, row, config, lines, where, report)
        skipped += skipped_spectra
        for column in ("direct_image", "segmentation", "mass_map"):
            path = row.get(column)
            if path is None:
                continue
            if produced_by_workflow(path):
                skipped += 1
                continue
            problem = check_sky_image(path, column, row["ra_deg"], row["dec_deg"])
            if problem:
                report.problems.append(f"{problem} ({where}, field '{column}')")
        model = row.get("lens_model")
        if model is not None and half_size is not None:
            lenses.check_frame(model, row, half_size, where, report)
    report.problems.extend(lenses.problems)
    if skipped:
        report.notes.append(
            f"{skipped} input file(s) below {PRODUCTS}/ are made by the workflow (the mock) and "
            "are checked by the jobs that write them"
        )
    return report


def _check_spectra(gid, row, config, lines, where, report) -> tuple[float | None, int]:
    """Read every spectrum of a galaxy; the half size (arcsec) of its reference frame."""
    pairs = galaxy_observations(row, config)
    reference = reference_observation(pairs, config, gid)
    z = float(row["redshift"])
    half_size, skipped, seen, scales = None, 0, [], set()
    for pa, grism in pairs:
        path = spectrum_path(row, pa, grism)
        label = f"{where}, field 'spectra', {pa}-{grism}"
        if produced_by_workflow(path):
            skipped += 1
            continue
        if not Path(path).is_file():
            report.problems.append(f"{path}: file not found ({label})")
            continue
        try:
            spec = _read(path, row["spectra_format"], gid, pa, grism, config)
        except InputError as error:
            report.problems.append(f"{error} ({label})")
            continue
        _check_identity(spec, path, gid, row, label, report)
        covered = _lines_with_data(spec, lines, z)
        if not covered:
            lo, hi = _data_range(spec)
            report.warnings.append(
                f"{path}: at z = {z:g} none of the lines {', '.join(x.name for x in lines)} "
                f"falls where the spectrum has data ({lo:.0f}-{hi:.0f} Angstrom): it adds "
                f"nothing to the maps ({label})"
            )
        seen.append(f"{pa}-{grism} ({', '.join(covered) or 'no line'})")
        scales.add(round(spec.pixel_scale, 6))
        if (pa, grism) == reference:
            half_size = 0.5 * spec.science.shape[0] * spec.pixel_scale
    if seen:
        report.notes.append(
            f"galaxy {gid} at z = {z:g}: {'; '.join(seen)}; "
            f"{', '.join(f'{x:g}' for x in sorted(scales))} arcsec/pixel"
        )
    return half_size, skipped


#: Offset (arcsec) between the sheet's position and the one a spectrum's header gives beyond
#: which a warning is given: more than the alignment absorbs (a few pixels at most).
POSITION_WARNING_ARCSEC = 0.3


def _check_identity(spec, path, gid, row, label, report) -> None:
    """Does the spectrum belong to the sheet's galaxy: its file name's id, its position."""
    if row["spectra_format"] == "glass":
        from ohmap.spectra.glass import parse_glass_filename

        named = parse_glass_filename(path)["galaxy"]
        if named != gid:
            report.warnings.append(
                f"{path}: the file name says galaxy {named}, the sheet's row is galaxy {gid} "
                f"({label})"
            )
    try:
        ra, dec = float(spec.meta.get("ra")), float(spec.meta.get("dec"))
    except (TypeError, ValueError):
        return
    cos_dec = np.cos(np.radians(float(row["dec_deg"])))
    dra = ((ra - float(row["ra_deg"]) + 180.0) % 360.0 - 180.0) * cos_dec
    offset = 3600.0 * float(np.hypot(dra, dec - float(row["dec_deg"])))
    stamp = 0.5 * spec.science.shape[0] * spec.pixel_scale
    where = (
        f"its header puts the object at RA {ra:.6f}, Dec {dec:.6f} deg, {offset:.2f} arcsec from "
        f"the sheet's ra_deg, dec_deg"
    )
    if offset > stamp:
        report.problems.append(
            f"{path}: {where}, beyond its stamp (+-{stamp:.1f} arcsec): not this galaxy's "
            f"spectrum, or a wrong position ({label})"
        )
    elif offset > POSITION_WARNING_ARCSEC:
        report.warnings.append(f"{path}: {where} ({label})")


def _read(path, spectra_format, gid, pa, grism, config):
    from ohmap.spectra.ingest import read_spectrum

    return read_spectrum(
        path, spectra_format, gid, pa, grism, calibration_dir=config.get("calibration_dir")
    )


def _data_range(spec) -> tuple[float, float]:
    has_data = np.isfinite(spec.error).any(axis=0)
    wave = np.asarray(spec.wavelength)[has_data]
    return (float(wave.min()), float(wave.max())) if wave.size else (np.nan, np.nan)


def _lines_with_data(spec, lines, z) -> list[str]:
    lo, hi = _data_range(spec)
    return [line.name for line in lines if lo <= line.wavelength * (1 + z) <= hi]


class _LensCache:
    """Each lens model read once; the frames of the galaxies that use it checked against it."""

    def __init__(self, config: dict):
        self.config = config
        self.models: dict = {}
        self.problems: list[str] = []

    def _model(self, name):
        if name not in self.models:
            self.models[name] = self._load(name)
        return self.models[name]

    def _load(self, name):
        from ohmap.gradients.lens_inputs import lens_model_inputs, model_prefix
        from ohmap.gradients.lensing import LensModel

        models = (self.config.get("lens") or {}).get("models") or {}
        if name not in models:
            return None  # check_samples has said so
        prefix = model_prefix(models[name])
        if produced_by_workflow(prefix):
            return None
        try:
            spec = lens_model_inputs(self.config, "configuration", names=[name])[name]
            return LensModel.from_hff(spec.prefix, spec.z_lens, name=name)
        except InputError as error:
            self.problems.append(f"{error} (lens.models.{name})")
            return None

    def check_frame(self, name, row, half_size, where, report) -> None:
        from ohmap.gradients.coverage import MIN_COVERED_FRACTION, lens_coverage

        lens = self._model(name)
        if lens is None:
            return
        coverage = lens_coverage(lens, row["ra_deg"], row["dec_deg"], half_size)
        if coverage.problem is None:
            return
        text = f"{coverage.problem} ({where}, field 'lens_model' = {name})"
        # What radius_map would refuse mid-run is refused here: the centre off the maps, or
        # less than MIN_COVERED_FRACTION of the frame on them; anything less is a warning.
        usable = coverage.centre_covered and coverage.fraction >= MIN_COVERED_FRACTION
        (report.warnings if usable else report.problems).append(text)
