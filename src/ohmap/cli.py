"""Command-line tool.

* ``ohmap validate`` checks a configuration, its sample sheet and every input file they name;
* ``ohmap init DATA_DIR`` writes a sample sheet and a configuration for a folder of data;
* ``ohmap fit-fluxes TABLE --out RESULT`` fits users' own line fluxes (docs/fit_fluxes.md).
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import os
import sys
from pathlib import Path

import numpy as np
import yaml

from ohmap import __version__
from ohmap.errors import InputError
from ohmap.inference.model import LineFluxModel
from ohmap.inference.settings import (
    ENGINES,
    LIKELIHOODS,
    PARAMETER_SETS,
    InferenceSettings,
    SamplerSettings,
)
from ohmap.inference.summary import DEFAULT_LIMIT_FRACTION
from ohmap.lines import FIT_LINES

SCHEMAS = Path("workflow") / "schemas"
#: Configuration ``fit-fluxes`` reads when ``--config`` is not given (if it exists).
DEFAULT_CONFIG = Path("config") / "config.yaml"
#: Limit rule of the summaries (:func:`ohmap.inference.summary.summarize`) unless the configuration's
#: ``inference.limit_fraction`` gives another.
LIMIT_FRACTION = DEFAULT_LIMIT_FRACTION

log = logging.getLogger("ohmap.cli")


def _validate(args) -> int:
    from ohmap.inputs.checks import check_configuration, check_input_files

    config_path = Path(args.config)
    if not config_path.is_file():
        raise InputError(config_path, "configuration file not found")
    config = _read_yaml(config_path)
    base = _read_yaml(Path(args.base)) if args.base else {}
    merged = _merge(base, config)
    schemas = Path(args.schemas)
    for name in ("config.schema.yaml", "galaxies.schema.yaml"):
        if not (schemas / name).is_file():
            raise InputError(
                schemas / name,
                "schema not found: run ohmap validate in the workflow's folder (the one holding "
                "workflow/schemas) or give that folder with --schemas",
            )
    samples = check_configuration(
        merged, config_path, schemas / "config.schema.yaml", schemas / "galaxies.schema.yaml"
    )
    report = check_input_files(samples, merged, merged["samples"])
    for note in report.notes:
        print(f"note: {note}")
    for warning in report.warnings:
        print(f"warning: {warning}")
    report.raise_for_problems(config_path)
    print(f"{config_path}: valid; {len(samples)} galaxies in {merged['samples']}")
    return 0


def _init(args) -> int:
    from ohmap.inputs.project import build_project, write_project
    from ohmap.inputs.scan import scan_data_dir

    data_dir = Path(args.data_dir)
    out = Path(args.out) if args.out else Path("config") / data_dir.resolve().name
    config_path, sheet_path = out / "config.yaml", out / "galaxies.tsv"
    scan = scan_data_dir(data_dir, calibration_dir=args.calibration_dir)
    project = build_project(scan, sheet_path, reference_pa=args.reference_pa)
    write_project(project, config_path, sheet_path, data_dir, force=args.force)
    n_files = sum(len(g.observations) for g in scan.galaxies.values())
    print(
        f"{data_dir}: {len(scan.galaxies)} galaxies, {n_files} PA-grism spectra, "
        f"{len(scan.lenses)} lens model(s), {sum(map(len, scan.images.values()))} image(s)"
        + (f", catalogue {scan.catalogue_path}" if scan.catalogue_path else "")
    )
    for title, items in (
        ("refused", scan.refused),
        ("assumed", project.assumed),
        ("MISSING", project.missing),
    ):
        for item in items:
            print(f"{title}: {item}")
    print(f"wrote {config_path} and {sheet_path}")
    base = Path("config") / "config.yaml"
    print(
        f"next: ohmap validate {config_path} --base {base}; then "
        f"snakemake --cores all --configfile {config_path}"
    )
    return 0


def _read_yaml(path: Path) -> dict:
    if not path.is_file():
        raise InputError(path, "configuration file not found")
    try:
        content = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as exc:
        raise InputError(path, f"not valid YAML: {exc}") from exc
    if not isinstance(content, dict):
        raise InputError(path, "a configuration must be a mapping of sections")
    return content


def _merge(base: dict, update: dict) -> dict:
    """Deep merge, as Snakemake lays --configfile over the Snakefile's configfile."""
    out = dict(base)
    for key, value in update.items():
        out[key] = (
            _merge(out[key], value)
            if isinstance(value, dict) and isinstance(out.get(key), dict)
            else value
        )
    return out


# ----------------------------------------------------------------------------------------------
# fit-fluxes
# ----------------------------------------------------------------------------------------------

FIT_FLUXES_DESCRIPTION = f"""\
Fit line fluxes of your own objects or regions: sample the posterior of 12+log(O/H), A_V and
the intrinsic H-beta flux (and [NII]/H-alpha with --parameters extended) of every row of TABLE
and write their percentiles, with the settings used, to RESULT.

TABLE (CSV, or ECSV: by the suffix .csv/.txt/.ecsv, or a first line '# %ECSV'), one row per
object or region; column names are matched without regard to case:
  id              optional; default the 1-based row number
  z               optional (or 'redshift'), finite and > 0; needed only for the SFR: a
                  row without it gets empty SFR columns
  magnification   optional, > 0; default 1 (divides the SFR)
  nii_ha          optional [NII]/H-alpha held fixed by the vanilla parameter set;
                  default inference.model.nii_ha_vanilla (ignored by the extended set)
  LINE_flux, LINE_err
                  line flux and its 1-sigma error in 1e-17 erg/s/cm^2, for LINE in
                  {", ".join(FIT_LINES)} (Ha: H-alpha blended with [NII]).
                  ECSV columns with units are converted to 1e-17 erg/s/cm^2.
An empty or NaN cell leaves that line out of that row. The whole table is checked before
anything is fitted; an unknown column, a flux column without its error column (or the reverse),
a zero or negative error with a finite flux, a row with no usable line, or a redshift that is
not above 0 is an error that names the row (1-based, and its id) and column, and nothing is written.

RESULT: ECSV unless it ends in .csv (then CSV plus RESULT.meta.yaml with the settings and
units). One row per input row, in input order: id, z, magnification, [nii_ha_fixed], and for
each quantity Q of oh12 [dex], av [mag], hbeta [1e-17 erg/s/cm^2, intrinsic], sfr [Msun/yr,
divided by the magnification] and (extended) nii_ha: Q_p16, Q_p50, Q_p84, Q_limit ('', '<' or
'>') and Q_value; then n_lines, tau_max [steps], converged and acceptance. The header holds the
settings: calibration, sigma_R per line, likelihood, parameter set, prior bounds, sampler
settings, ohmap version and input file.

Settings: the inference.model and inference.sampler sections (and inference.limit_fraction,
the limit rule, default {LIMIT_FRACTION}) of --config (default:
{DEFAULT_CONFIG} if it exists in the working directory, else the library defaults), then the
options below. Each row's result depends only on its own data, the seed and its id.
"""


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is at the time (so captured output works)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value):
        pass


def _read_config_sections(args) -> tuple[dict, dict, float, str | None]:
    """The ``inference.model`` and ``inference.sampler`` sections and ``inference.limit_fraction``
    of the configuration."""
    if args.config:
        path = Path(args.config)
        if not path.is_file():
            raise InputError(path, "configuration file not found")
    elif DEFAULT_CONFIG.is_file():
        path = DEFAULT_CONFIG
    else:
        return {}, {}, LIMIT_FRACTION, None
    config = _read_yaml(path)
    inference = config.get("inference") or {}
    if not isinstance(inference, dict):
        raise InputError(path, "inference: must be a mapping (with model: and sampler:)")
    sections = []
    for key in ("model", "sampler"):
        section = inference.get(key) or {}
        if not isinstance(section, dict):
            raise InputError(path, f"inference.{key}: must be a mapping")
        sections.append(dict(section))
    limit_fraction = inference.get("limit_fraction", LIMIT_FRACTION)
    if (
        isinstance(limit_fraction, bool)
        or not isinstance(limit_fraction, (int, float))
        or not 0 < limit_fraction < 1
    ):
        raise InputError(
            path, f"inference.limit_fraction = {limit_fraction!r}: need a number in (0, 1)"
        )
    return sections[0], sections[1], float(limit_fraction), os.fspath(path)


def inference_settings(args) -> tuple[InferenceSettings, SamplerSettings, float, str | None]:
    """Settings of ``fit-fluxes``: the configuration's sections overridden by the options, the
    limit fraction and the configuration file read (None: library defaults)."""
    model, sampler, limit_fraction, config_path = _read_config_sections(args)
    for option, key in (
        ("likelihood", "likelihood"),
        ("parameters", "parameters"),
        ("calibration", "calibration"),
    ):
        if getattr(args, option) is not None:
            model[key] = getattr(args, option)
    for option, key in (
        ("engine", "engine"),
        ("seed", "seed"),
        ("walkers", "n_walkers"),
        ("steps", "n_steps"),
        ("burn", "n_burn"),
        ("thin", "thin"),
    ):
        if getattr(args, option) is not None:
            sampler[key] = getattr(args, option)
    where = config_path or "library defaults"
    built = []
    for cls, section, name in (
        (InferenceSettings, model, "model"),
        (SamplerSettings, sampler, "sampler"),
    ):
        try:
            built.append(cls.from_config(section, f"{where}: inference.{name}"))
        except (TypeError, ValueError) as exc:
            if isinstance(exc, InputError):
                raise
            raise InputError(
                where, f"inference.{name}: a value has the wrong type ({exc})"
            ) from exc
    return built[0], built[1], limit_fraction, config_path


def fit_flux_table(
    table,
    model_settings: InferenceSettings,
    sampler_settings: SamplerSettings,
    limit_fraction: float = LIMIT_FRACTION,
):
    """Fit every row of a :class:`ohmap.io.fluxtable.FluxTable`.

    Rows are grouped by the [NII]/H-alpha the vanilla set holds fixed (one
    :class:`~ohmap.inference.model.LineFluxModel` per value; one group for the extended set) and
    each group goes to :func:`ohmap.inference.fitting.fit_fluxes` with keys ``("fit-fluxes", id)``, so a
    row's result depends only on its data, the seed and its id.

    Returns
    -------
    fits : list of FluxFit
        One per row, in the table's order.
    nii_ha : ndarray
        [NII]/H-alpha each row was fitted with (vanilla set; NaN for the extended set).
    models : list of LineFluxModel
        One per group.
    """
    from ohmap.inference.fitting import fit_fluxes

    extended = model_settings.parameters == "extended"
    n = len(table)
    if extended:
        nii = np.full(n, np.nan)
        groups = [(None, np.arange(n))]
        if np.isfinite(table.nii_ha).any():
            log.info(
                "the extended parameter set fits [NII]/H-alpha: the table's nii_ha column is not used"
            )
    else:
        nii = np.where(np.isfinite(table.nii_ha), table.nii_ha, model_settings.nii_ha_vanilla)
        groups = [(value, np.flatnonzero(nii == value)) for value in np.unique(nii)]
    fits = [None] * n
    models = []
    for g, (value, rows) in enumerate(groups, start=1):
        model = LineFluxModel(table.lines, model_settings, nii_ha=value)
        models.append(model)
        what = "[NII]/H-alpha free" if extended else f"[NII]/H-alpha = {value:g}"
        log.info(
            "group %d of %d: %d row(s), %s, lines %s, %s engine",
            g,
            len(groups),
            rows.size,
            what,
            ", ".join(table.lines),
            sampler_settings.engine,
        )
        keys = [("fit-fluxes", table.ids[i]) for i in rows]
        results = fit_fluxes(
            model,
            table.flux[rows],
            table.error[rows],
            keys,
            sampler_settings,
            table.redshift[rows],
            table.magnification[rows],
            limit_fraction=limit_fraction,
        )
        for i, result in zip(rows, results):
            fits[i] = result
    return fits, nii, models


def settings_meta(
    model: LineFluxModel,
    sampler_settings: SamplerSettings,
    source: str,
    config_path: str | None,
    limit_fraction: float = LIMIT_FRACTION,
) -> dict:
    """The settings a result was made with, as written in its header (or sidecar)."""
    from ohmap.io.fluxtable import FLUX_UNIT

    s = model.settings
    cal = model.calibration
    flux_unit = FLUX_UNIT.to_string()
    priors = {
        "oh12": {"distribution": "flat", "bounds": list(s.oh12_prior), "unit": "dex"},
        "av": {"distribution": "flat", "bounds": list(s.av_prior), "unit": "mag"},
        "hbeta": {
            "distribution": "Jeffreys (flat in log10)",
            "bounds": list(s.hbeta_prior),
            "unit": flux_unit,
        },
    }
    if model.extended:
        priors["nii_ha"] = {
            "distribution": "Jeffreys (flat in log10)",
            "bounds": list(s.nii_ha_prior),
            "unit": "",
        }
    return {
        "command": "ohmap fit-fluxes",
        "ohmap_version": __version__,
        "input": source,
        "config": config_path or "library defaults",
        "flux_unit": flux_unit,
        "lines": list(model.lines),
        "calibration": {
            "name": cal.name,
            "reference": cal.reference,
            "ratios": {
                line: cal.ratios[line].reference for line in model.lines if line in cal.ratios
            },
        },
        "sigma_R_dex": {line: float(x) for line, x in zip(model.lines, model.scatter)},
        "likelihood": s.likelihood,
        "parameters": s.parameters,
        "nii_ha_vanilla": float(s.nii_ha_vanilla),
        "rv": float(s.rv),
        "extinction_curve": "Cardelli, Clayton & Mathis (1989)",
        "priors": priors,
        "limit_fraction": float(limit_fraction),
        "sampler": dataclasses.asdict(sampler_settings),
        "random_streams": "one per row, from sampler.seed and the key ('fit-fluxes', id)",
    }


def _fit_fluxes(args) -> int:
    from ohmap.io.fluxtable import read_flux_table, result_table, write_result_table

    handler = _StderrHandler()
    handler.setFormatter(logging.Formatter("ohmap: %(message)s"))
    logger = logging.getLogger("ohmap")
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if args.quiet else logging.INFO)
    try:
        out = Path(args.out)
        source = Path(args.table)
        if out.is_dir():
            raise InputError(out, "--out is a folder; give a file name (.ecsv or .csv)")
        if source.is_file() and out.exists() and out.resolve() == source.resolve():
            raise InputError(out, "--out is the input table; give another file name")
        model_settings, sampler_settings, limit_fraction, config_path = inference_settings(args)
        table = read_flux_table(source)
        log.info(
            "%s: %d row(s), lines %s; %s parameter set, %s likelihood, calibration %s",
            source,
            len(table),
            ", ".join(table.lines),
            model_settings.parameters,
            model_settings.likelihood,
            model_settings.calibration,
        )
        fits, nii, models = fit_flux_table(table, model_settings, sampler_settings, limit_fraction)
        quantities = ["oh12", "av", "hbeta", "sfr"] + (["nii_ha"] if models[0].extended else [])
        meta = settings_meta(
            models[0], sampler_settings, os.fspath(source), config_path, limit_fraction
        )
        result = result_table(table, fits, quantities, None if models[0].extended else nii, meta)
        written = write_result_table(result, out)
        log.info(
            "fitted %d row(s) in %d group(s); %d not converged (chain shorter than %g x tau)",
            len(fits),
            len(models),
            sum(not f.converged for f in fits),
            sampler_settings.min_tau_multiple,
        )
        for path in written:
            print(path)
        return 0
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is negative")
    return value


def _add_fit_fluxes(sub) -> None:
    fit = sub.add_parser(
        "fit-fluxes",
        help="fit metallicity, dust and SFR to a table of line fluxes",
        description=FIT_FLUXES_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    fit.add_argument("table", help="CSV or ECSV table of line fluxes (1e-17 erg/s/cm^2)")
    fit.add_argument(
        "--out",
        required=True,
        metavar="RESULT",
        help="output table: ECSV, or CSV if it ends in .csv (plus RESULT.meta.yaml)",
    )
    fit.add_argument(
        "--config",
        metavar="PATH",
        help=f"configuration whose inference.model and inference.sampler sections are used "
        f"(default: {DEFAULT_CONFIG} if it exists, else the library defaults)",
    )
    fit.add_argument("--engine", choices=ENGINES, help="sampler engine")
    fit.add_argument(
        "--likelihood", choices=LIKELIHOODS, help="likelihood (gaussian includes the ln V term)"
    )
    fit.add_argument(
        "--parameters",
        choices=PARAMETER_SETS,
        help="vanilla ([NII]/H-alpha fixed) or extended ([NII]/H-alpha free)",
    )
    fit.add_argument(
        "--calibration", metavar="NAME", help="calibration of the registry, e.g. maiolino2008"
    )
    fit.add_argument(
        "--seed", type=_non_negative_int, metavar="N", help="seed of every row's random stream"
    )
    fit.add_argument("--walkers", type=_non_negative_int, metavar="N", help="walkers (even, >= 4)")
    fit.add_argument("--steps", type=_non_negative_int, metavar="N", help="steps per walker")
    fit.add_argument(
        "--burn", type=_non_negative_int, metavar="N", help="burn-in steps discarded (< steps)"
    )
    fit.add_argument(
        "--thin", type=_non_negative_int, metavar="N", help="keep every N-th step after burn-in"
    )
    fit.add_argument("-q", "--quiet", action="store_true", help="log warnings only")
    fit.set_defaults(func=_fit_fluxes)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="ohmap", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("validate", help="validate a configuration and its sample sheet")
    check.add_argument("config", nargs="?", default="config/config.yaml")
    check.add_argument(
        "--base", help="configuration the given one is laid over (as --configfile does)"
    )
    check.add_argument("--schemas", default=str(SCHEMAS), help="folder with the JSON schemas")
    check.set_defaults(func=_validate)
    init = sub.add_parser(
        "init",
        help="write a sample sheet and a configuration for a folder of data",
        description="Scan DATA_DIR (recursively) for GLASS *.2D.fits, grizli *.stack.fits and "
        "*.beams.fits, HFF lens maps, stellar-mass maps, direct images, segmentation maps and a "
        "catalogue of redshifts and masses; write OUT/config.yaml and OUT/galaxies.tsv with the "
        "observations, PA labels, z_lens and exposure times the files give, and print what "
        "was assumed and what is missing (docs/inputs.md).",
    )
    init.add_argument("data_dir", metavar="DATA_DIR")
    init.add_argument(
        "--out", metavar="OUT", help="folder to write to (default config/<DATA_DIR name>)"
    )
    init.add_argument(
        "--calibration-dir",
        metavar="PATH",
        help="aXe configuration folder (default: a folder below DATA_DIR with *.conf files)",
    )
    init.add_argument(
        "--reference-pa",
        metavar="PA",
        help="three-digit PA label every map is aligned to (default: the PA most galaxies have)",
    )
    init.add_argument("--force", action="store_true", help="overwrite existing files")
    init.set_defaults(func=_init)
    _add_fit_fluxes(sub)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InputError as error:
        print(f"ohmap: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
