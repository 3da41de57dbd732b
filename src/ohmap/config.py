"""Configuration and sample sheet: read, validate against the JSON schemas, check consistency.

Every problem raises :class:`~ohmap.errors.InputError` naming the file, the row (line number and
galaxy id) and the field, before any job runs. The workflow calls :func:`load_samples` and
:func:`check_samples` from ``workflow/rules/common.smk``; they work without Snakemake too.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import jsonschema
import pandas as pd
import yaml

from ohmap.errors import InputError
from ohmap.lines import LINES_BY_NAME, MAP_LINES
from ohmap.spectra.grisms import GRISMS, lines_in_range


def _load_schema(path) -> dict:
    with open(path) as fh:
        return yaml.safe_load(fh)


def _describe(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.absolute_path)
    message = error.message
    if error.context:
        # oneOf/anyOf: say why the alternatives fail, leaving out "is not of type" for the
        # alternatives of another type than the value (unless that is all there is).
        reasons = [
            e for e in error.context if e.relative_path or e.validator != "type"
        ] or error.context
        message += " (" + "; ".join(_reason(e) for e in reasons) + ")"
    return f"field '{where}': {message}" if where else message


def _reason(error: jsonschema.ValidationError) -> str:
    where = ".".join(str(p) for p in error.relative_path)
    return f"'{where}': {error.message}" if where else error.message


def validate_config(config: dict, schema_path, source) -> dict:
    """Validate a configuration dict against ``schema_path``.

    Raises
    ------
    InputError
        Naming ``source`` (the configuration file) and the offending field.
    """
    schema = _load_schema(schema_path)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        raise InputError(source, "; ".join(_describe(e) for e in errors))
    return config


def _coerce(value: str, spec: dict):
    """Turn one TSV cell into the type its schema property asks for (None for empty)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    if text == "":
        return None
    kinds = spec.get("type")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    if "number" in kinds:
        try:
            return float(text)
        except ValueError:
            return text  # left for the schema to reject with its own message
    if "integer" in kinds:
        try:
            return int(text)
        except ValueError:
            return text
    return text


def load_samples(path, schema_path) -> pd.DataFrame:
    """Read the sample sheet (tab-separated, ``#`` comments) and validate every row.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``galaxy_id`` (strings, leading zeros kept); empty cells are None.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "sample sheet not found")
    schema = _load_schema(schema_path)
    props = schema["properties"]
    try:
        raw = pd.read_csv(path, sep="\t", dtype=str, comment="#", keep_default_na=False)
    except Exception as exc:  # pandas raises several kinds for malformed text
        raise InputError(path, f"cannot be read as a tab-separated table: {exc}") from exc
    if raw.empty:
        raise InputError(path, "the sample sheet has no rows")
    unknown = [c for c in raw.columns if c not in props]
    if unknown:
        raise InputError(
            path, f"unknown column(s) {', '.join(unknown)}; allowed: {', '.join(props)}"
        )
    first_data_line = _first_data_line(path)
    validator = jsonschema.Draft202012Validator(schema)
    records = []
    for i, row in raw.iterrows():
        record = {
            col: _coerce(val, props[col])
            for col, val in row.items()
            if _coerce(val, props[col]) is not None
        }
        errors = sorted(validator.iter_errors(record), key=lambda e: list(e.absolute_path))
        if errors:
            gid = record.get("galaxy_id", "?")
            raise InputError(
                path,
                f"row {i + 1} (line {first_data_line + i}, galaxy {gid}): "
                + "; ".join(_describe(e) for e in errors),
            )
        records.append(record)
    frame = pd.DataFrame.from_records(records)
    frame = frame.reindex(columns=list(props)).astype(object)
    frame = frame.where(pd.notna(frame), None)
    duplicated = frame["galaxy_id"][frame["galaxy_id"].duplicated()]
    if len(duplicated):
        raise InputError(path, f"galaxy_id {duplicated.iloc[0]} appears more than once")
    return frame.set_index("galaxy_id", drop=False)


def _first_data_line(path: Path) -> int:
    """1-based line number of the first data row (after comments and the header)."""
    with open(path) as fh:
        for number, line in enumerate(fh, start=1):
            if not line.startswith("#"):
                return number + 1
    return 2


def galaxy_observations(row, config: dict) -> list[tuple[str, str]]:
    """The (PA label, grism) pairs of one galaxy: its ``observations`` cell, or all in config."""
    if row.get("observations"):
        return [tuple(item.split("-")) for item in row["observations"].split(",")]
    return [(o["pa"], o["grism"]) for o in config["observations"]]


def reference_observation(
    pairs, config: dict, galaxy: str, source="configuration"
) -> tuple[str, str]:
    """The (PA, grism) whose map grid a galaxy's stacks are on.

    The configured ``reference_pa`` with ``linemaps.reference_grism`` (default G141), else the
    reference PA's other grism.

    Raises
    ------
    InputError
        When the galaxy was not observed at the reference PA.
    """
    pa = config["reference_pa"]
    grism = config.get("linemaps", {}).get("reference_grism", "G141")
    at_pa = [g for p, g in pairs if p == pa]
    if not at_pa:
        raise InputError(
            source,
            f"galaxy {galaxy}, field 'observations': not observed at the reference "
            f"PA {pa} (reference_pa), so its maps have no orientation to be aligned to",
        )
    return pa, (grism if grism in at_pa else sorted(at_pa)[-1])


def linemap_settings(config: dict, source="configuration") -> dict:
    """Extraction, alignment, vetting and joint de-blending settings from the ``linemaps``
    section (unknown keys raise :class:`~ohmap.errors.InputError` naming the section)."""
    from ohmap.linemaps.settings import (
        AlignmentSettings,
        ExtractionSettings,
        JointDeblendSettings,
        VettingSettings,
    )

    section = config.get("linemaps") or {}
    out = {}
    for key, cls in (
        ("extraction", ExtractionSettings),
        ("alignment", AlignmentSettings),
        ("vetting", VettingSettings),
    ):
        out[key] = cls.from_config(section.get(key), f"{source}, section linemaps.{key}")
    out["joint"] = JointDeblendSettings.from_config(
        (section.get("stacking") or {}).get("joint"), f"{source}, section linemaps.stacking.joint"
    )
    unknown = [n for n in out["extraction"].lines if n not in LINES_BY_NAME]
    if unknown:
        raise InputError(
            source,
            f"section linemaps.extraction, field 'lines': unknown line(s) "
            f"{', '.join(unknown)} (known: {', '.join(MAP_LINES)})",
        )
    return out


def inference_settings(config: dict, source="configuration") -> dict:
    """Model, sampler and spaxel settings from the ``inference`` section (unknown keys or bad
    values raise :class:`~ohmap.errors.InputError` naming the section)."""
    from ohmap.inference.settings import (
        InferenceSettings,
        SamplerSettings,
        SpaxelSettings,
    )

    section = config.get("inference") or {}
    out = {}
    for key, cls in (
        ("model", InferenceSettings),
        ("sampler", SamplerSettings),
        ("spaxels", SpaxelSettings),
    ):
        try:
            out[key] = cls.from_config(section.get(key), f"{source}, section inference.{key}")
        except TypeError as error:
            raise InputError(source, f"section inference.{key}: {error}") from None
        except InputError as error:
            raise InputError(source, f"section inference.{key}: {error.problem}") from None
    from ohmap.inference.summary import DEFAULT_LIMIT_FRACTION

    out["limit_fraction"] = float(section.get("limit_fraction", DEFAULT_LIMIT_FRACTION))
    return out


def check_samples(samples: pd.DataFrame, config: dict, source) -> None:
    """Consistency checks the schema cannot express.

    * every galaxy's lens model is configured, has a lens redshift (its own ``z_lens``, else
      ``lens.z_lens``, else the maps' ``Z_LENS``, consistent with one another) and, unless the
      mock writes them, its maps;
    * every galaxy lies behind its lens model's lens;
    * every PA-grism pair a galaxy lists is in ``config['observations']``;
    * a glass path template has ``{pa}`` and ``{grism}``;
    * at least one mapped line falls in the usable range of a grism the galaxy is observed with.
    """
    from ohmap.gradients.lens_inputs import lens_model_inputs

    configured = {(o["pa"], o["grism"]) for o in config["observations"]}
    models = config["lens"]["models"]
    lensed = samples[samples["lens_model"].notna()]
    for gid, row in lensed.iterrows():
        if row["lens_model"] not in models:
            raise InputError(
                source,
                f"galaxy {gid}, field 'lens_model': no lens model named {row['lens_model']!r} "
                f"under lens.models in the configuration (known: {', '.join(models)})",
            )
    # Mock lens maps are written by the workflow, so they may not exist yet.
    lenses = lens_model_inputs(
        config,
        "the configuration",
        names=lensed["lens_model"],
        maps_exist_required=not (config.get("mock") or {}).get("enabled", False),
    )
    for gid, row in samples.iterrows():
        where = f"galaxy {gid}"
        lens = lenses.get(row["lens_model"])
        if lens is not None and lens.z_lens is not None and row["redshift"] <= lens.z_lens:
            raise InputError(
                source,
                f"{where}, field 'redshift': z = {row['redshift']} is not behind the lens "
                f"(z_lens = {lens.z_lens} of lens model {lens.name}, from {lens.z_lens_source})",
            )
        pairs = galaxy_observations(row, config)
        for pa, grism in pairs:
            if (pa, grism) not in configured:
                raise InputError(
                    source,
                    f"{where}, field 'observations': {pa}-{grism} is not among the configured "
                    "observations",
                )
        reference_observation(pairs, config, gid, source)
        if row["spectra_format"] == "glass":
            for key in ("{pa}", "{grism}"):
                if key not in row["spectra"]:
                    raise InputError(
                        source, f"{where}, field 'spectra': a glass path template needs {key}"
                    )
            try:
                spectrum_path(row, *pairs[0])
            except (KeyError, IndexError, ValueError) as error:
                raise InputError(
                    source,
                    f"{where}, field 'spectra': the path template cannot be filled in "
                    f"({type(error).__name__}: {error}); it may hold {{pa}}, {{grism}} and "
                    "{galaxy}, and no other braces",
                ) from None
        lines = [LINES_BY_NAME[name] for name in MAP_LINES]
        grisms = {g for _, g in pairs}
        if not any(lines_in_range(row["redshift"], GRISMS[g], lines) for g in grisms):
            ranges = ", ".join(
                f"{g} {GRISMS[g].wavelength_min:.0f}-{GRISMS[g].wavelength_max:.0f} A"
                for g in sorted(grisms)
            )
            raise InputError(
                source,
                f"{where}, field 'redshift': at z = {row['redshift']} none of the lines "
                f"{', '.join(MAP_LINES)} falls in the usable grism range ({ranges})",
            )


MASS_COLUMNS = ("log_mstar", "log_mstar_err_lo", "log_mstar_err_hi")


def galaxy_masses(row) -> list[float] | None:
    """``[log_mstar, error below, error above]`` (log10 Msun, dex) of a sample-sheet row.

    None when the sheet gives no mass (the galaxy then takes no part in the sample-level
    science); a missing error is 0 dex (:func:`stage_messages` says so).
    """
    if row.get("log_mstar") is None:
        return None
    return [float(row["log_mstar"])] + [
        0.0 if row.get(c) is None else float(row[c]) for c in MASS_COLUMNS[1:]
    ]


def stage_messages(samples: pd.DataFrame, config: dict) -> list[str]:
    """What the sample sheet leaves out, and which stages are skipped for it, one sentence each
    (logged when the workflow starts and printed by ``ohmap validate``)."""

    def ids(mask):
        return [str(gid) for gid, keep in zip(samples.index, mask) if keep]

    messages = []
    for column, what in (("lens_model", "lens model"), ("mass_map", "stellar-mass map")):
        missing = ids(samples[column].isna())
        if missing:
            messages.append(
                f"no {what} ({column}) for galaxy {', '.join(missing)}: no source-plane "
                "morphology, radii, gradient or BPT figure"
                + ("; the SFR is not corrected for lensing" if column == "lens_model" else "")
            )
    no_mass = ids(samples["log_mstar"].isna())
    if no_mass:
        messages.append(
            f"no log_mstar for galaxy {', '.join(no_mass)}: left out of the sample-level science "
            "(AGN screening, Table 2, SFR-mass, MZR, FMR offsets, gradient trends)"
        )
    no_error = ids(
        samples["log_mstar"].notna()
        & (samples["log_mstar_err_lo"].isna() | samples["log_mstar_err_hi"].isna())
    )
    if no_error:
        messages.append(
            f"no log_mstar_err_lo/hi for galaxy {', '.join(no_error)}: a missing mass error is "
            "taken as 0 dex"
        )
    return messages


def spectrum_path(row, pa: str, grism: str) -> str:
    """Input file holding one galaxy's spectrum at one PA and grism."""
    if row["spectra_format"] == "glass":
        return row["spectra"].format(pa=pa, grism=grism, galaxy=row["galaxy_id"])
    return row["spectra"]


def resolve(path, base) -> str:
    """``path`` relative to ``base`` unless absolute."""
    return path if os.path.isabs(path) else os.path.join(base, path)
