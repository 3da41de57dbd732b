"""A first sample sheet and configuration from a scanned data folder (``ohmap init``).

:func:`build_project` turns a :class:`~ohmap.inputs.scan.DataScan` into the rows of a sample
sheet and the sections of a configuration, taking what the files say (PA labels, grisms,
exposure times, positions, ``Z_LENS``, which lens map covers which galaxy) and listing what it
had to assume and what is still missing; :func:`write_project` writes both files, refusing to
overwrite unless told to.
"""

from __future__ import annotations

import datetime
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ohmap.errors import InputError
from ohmap.io.atomic import write_text_atomic
from ohmap.io.sample_sheet import SHEET_COLUMNS

from .scan import DataScan


@dataclass
class Project:
    """A sample sheet (rows of :data:`SHEET_COLUMNS`) and a configuration, with what was
    assumed and what is missing."""

    rows: list
    config: dict
    assumed: list = field(default_factory=list)
    missing: list = field(default_factory=list)


def build_project(scan: DataScan, sheet_path, reference_pa: str | None = None) -> Project:
    """Sample sheet and configuration for the data ``scan`` found.

    Parameters
    ----------
    scan : DataScan
        :func:`ohmap.inputs.scan.scan_data_dir`'s result.
    sheet_path : path-like
        Where the sample sheet will be written (the configuration's ``samples``).
    reference_pa : str, optional
        The PA every map is aligned to; default the PA most galaxies were observed at.
    """
    assumed, missing = list(scan.assumed), list(scan.missing)
    observations = _observations(scan, assumed, missing)
    reference_pa, reference_grism = _reference(scan, assumed, reference_pa)
    rows = [_row(scan, gid, observations, assumed, missing) for gid in sorted(scan.galaxies)]
    fields = sorted({g.field_name for g in scan.galaxies.values() if g.field_name})
    field_name = fields[0] if fields else re.sub(r"[^A-Za-z0-9_]", "_", scan.root.name)
    config = {
        "samples": str(Path(sheet_path).resolve()),
        "field": field_name,
        "observations": [
            {"pa": pa, "grism": grism} | ({"exposure_time": float(t)} if t is not None else {})
            for (pa, grism), t in sorted(observations.items())
        ],
        "reference_pa": reference_pa,
        "linemaps": {"reference_grism": reference_grism},
        "lens": {
            "z_lens": None,
            "models": {
                lens.name: {"prefix": lens.prefix}
                | ({"z_lens": lens.z_lens} if lens.z_lens is not None else {})
                for lens in scan.lenses
            },
        },
        "gradients": {"agn_candidates": []},
        "calibration_dir": None if scan.calibration_dir is None else str(scan.calibration_dir),
        "mock": {"enabled": False},
    }
    for lens in scan.lenses:
        if lens.z_lens is None:
            missing.append(
                f"lens model {lens.name}: no Z_LENS in {lens.prefix}{'_x-arcsec-deflect.fits'}; "
                f"set lens.models.{lens.name}.z_lens"
            )
    return Project(rows, config, assumed, missing)


def _observations(scan, assumed, missing) -> dict:
    """(PA, grism) -> the longest exposure time any file gives for it (None: none does)."""
    times: dict = {}
    for found in scan.galaxies.values():
        for key, t in found.observations.items():
            if t is not None:
                times[key] = max(times.get(key) or 0.0, float(t))
            else:
                times.setdefault(key, None)
    unknown = [f"{pa}-{grism}" for (pa, grism), t in sorted(times.items()) if t is None]
    if unknown:
        missing.append(
            f"exposure time of {', '.join(unknown)}: no file gives EXPTIME (only the mock "
            "needs it; add observations[].exposure_time in seconds to record it)"
        )
    return times


def _reference(scan, assumed, chosen=None) -> tuple[str, str]:
    """The PA most galaxies were observed at (ties: the longest summed exposure, then the
    lowest label) unless ``chosen``, and its grism that most of them have (G141 on a tie)."""
    per_pa = Counter()
    depth = Counter()
    for found in scan.galaxies.values():
        for pa in {pa for pa, _ in found.observations}:
            per_pa[pa] += 1
        for (pa, _), t in found.observations.items():
            depth[pa] += t or 0.0
    if chosen is not None and chosen not in per_pa:
        raise InputError(
            scan.root, f"--reference-pa {chosen}: no spectrum at that PA (found {sorted(per_pa)})"
        )
    pa = chosen or sorted(per_pa, key=lambda p: (-per_pa[p], -depth[p], p))[0]
    grisms = Counter(g for f in scan.galaxies.values() for p, g in f.observations if p == pa)
    grism = sorted(grisms, key=lambda g: (-grisms[g], g != "G141"))[0]
    if chosen is None:
        assumed.append(
            f"reference_pa {pa} (grism {grism}): the PA most galaxies ({per_pa[pa]} of "
            f"{len(scan.galaxies)}) were observed at; every map is aligned to it "
            "(--reference-pa to choose another)"
        )
    return pa, grism


def _row(scan: DataScan, gid: str, observations: dict, assumed, missing) -> dict:
    found = scan.galaxies[gid]
    catalogue = scan.catalogue.get(gid, {})
    row = dict.fromkeys(SHEET_COLUMNS, "")
    row.update(galaxy_id=gid, spectra_format=found.spectra_format, spectra=found.spectra)
    for key in ("ra_deg", "dec_deg"):
        value = catalogue.get(key, getattr(found, key))
        if value is None:
            missing.append(f"galaxy {gid}: {key} (neither a catalogue nor the spectrum's header)")
        else:
            row[key] = f"{value:.7f}"
    for key in ("redshift", "log_mstar", "log_mstar_err_lo", "log_mstar_err_hi", "nii_ha"):
        if key in catalogue:
            row[key] = f"{catalogue[key]:g}"
    if "redshift" not in catalogue:
        missing.append(f"galaxy {gid}: redshift (no catalogue with a redshift column names it)")
    if "log_mstar" not in catalogue:
        assumed.append(f"galaxy {gid}: no stellar mass, so no sample-level science for it")
    own = sorted(found.observations)
    if own != sorted(observations):
        row["observations"] = ",".join(f"{pa}-{grism}" for pa, grism in own)
    row.update(scan.images.get(gid, {}))
    if not found.has_direct_image and not row.get("direct_image"):
        missing.append(
            f"galaxy {gid}: {found.spectra} has no direct image and none was found; "
            "Hbeta/[OIII] cannot be de-blended without one (column direct_image)"
        )
    _lens(scan, gid, row, assumed, missing)
    if not row.get("mass_map"):
        assumed.append(
            f"galaxy {gid}: no stellar-mass map, so no source-plane morphology or gradient"
        )
    return row


def _lens(scan: DataScan, gid: str, row: dict, assumed, missing) -> None:
    if not row["ra_deg"]:
        return
    ra, dec = float(row["ra_deg"]), float(row["dec_deg"])
    covering = [lens for lens in scan.lenses if lens.covers(ra, dec)]
    if not covering:
        if scan.lenses:
            missing.append(f"galaxy {gid}: no lens map found covers it (RA {ra}, Dec {dec})")
        return
    row["lens_model"] = covering[0].name
    if len(covering) > 1:
        others = ", ".join(lens.name for lens in covering[1:])
        assumed.append(f"galaxy {gid}: lens model {covering[0].name} (also covered by {others})")


def write_project(project: Project, config_path, sheet_path, source, force=False) -> None:
    """Write the configuration and the sample sheet.

    Raises
    ------
    InputError
        When either file exists and ``force`` is not set (nothing is written then).
    """
    config_path, sheet_path = Path(config_path), Path(sheet_path)
    for path in (config_path, sheet_path):
        if path.exists() and not force:
            raise InputError(path, "exists; pass --force to overwrite it")
    config_path.parent.mkdir(parents=True, exist_ok=True)
    sheet_path.parent.mkdir(parents=True, exist_ok=True)
    stamp = datetime.date.today().isoformat()
    header = [
        f"# Sample sheet written by ohmap init from {source} on {stamp}.",
        "# Columns: workflow/schemas/galaxies.schema.yaml and docs/inputs.md.",
    ]
    lines = header + ["\t".join(SHEET_COLUMNS)]
    lines += ["\t".join(str(row.get(c, "")) for c in SHEET_COLUMNS) for row in project.rows]
    write_text_atomic("\n".join(lines) + "\n", sheet_path)
    notes = [f"# Configuration written by ohmap init from {source} on {stamp}."]
    notes += ["# Laid over config/config.yaml: snakemake --configfile " + str(config_path)]
    notes += [f"# Assumed: {text}" for text in project.assumed]
    notes += [f"# MISSING: {text}" for text in project.missing]
    body = yaml.safe_dump(project.config, sort_keys=False, default_flow_style=None, width=100)
    write_text_atomic("\n".join(notes) + "\n" + body, config_path)
