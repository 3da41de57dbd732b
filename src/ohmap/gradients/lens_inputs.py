"""The lens models a configuration names: the path prefix of each model's maps and its lens
redshift, resolved before any job runs.

``lens.models.<name>`` is either the prefix itself (a string) or a mapping
``{prefix: ..., z_lens: ...}``; ``lens.z_lens`` is an optional default. The lens redshift of a
model is, in this order, the model's own ``z_lens``, the global ``lens.z_lens``, or the
``Z_LENS`` header keyword of its maps. A configured value that differs from the headers' by more
than :data:`ohmap.io.hff.Z_LENS_TOLERANCE` is refused, and so is a model with none at all.
Only headers are read, so resolving is cheap.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ohmap.errors import InputError
from ohmap.io.hff import Z_LENS_TOLERANCE, hff_paths, read_hff_z_lens


@dataclass(frozen=True)
class LensModelInput:
    """One configured lens model.

    Attributes
    ----------
    name : str
        Its name under ``lens.models`` (what the sample sheet's ``lens_model`` names).
    prefix : str
        Path prefix of its four HFF maps (:func:`ohmap.io.hff.hff_paths`).
    z_lens : float or None
        Lens redshift; None only while the maps do not exist yet and nothing is configured
        (mock maps the workflow writes: the jobs then read ``Z_LENS`` from the maps).
    z_lens_source : str
        Where ``z_lens`` came from: ``lens.models.<name>.z_lens``, ``lens.z_lens``,
        ``Z_LENS in <file>``, or why it is not known yet.
    """

    name: str
    prefix: str
    z_lens: float | None
    z_lens_source: str


def model_prefix(entry) -> str:
    """The map prefix of a ``lens.models`` entry: the string itself, or its ``prefix``."""
    return str(entry["prefix"]) if isinstance(entry, Mapping) else str(entry)


def configured_z_lens(config: dict, name: str) -> tuple[float | None, str | None]:
    """The configured lens redshift of model ``name`` and the field it is set in.

    Returns
    -------
    z_lens : float or None
        ``lens.models.<name>.z_lens``, else ``lens.z_lens``, else None.
    field : str or None
        The configuration field it came from.
    """
    lens = config.get("lens") or {}
    entry = (lens.get("models") or {}).get(name)
    if isinstance(entry, Mapping) and entry.get("z_lens") is not None:
        return float(entry["z_lens"]), f"lens.models.{name}.z_lens"
    if lens.get("z_lens") is not None:
        return float(lens["z_lens"]), "lens.z_lens"
    return None, None


def lens_model_input(
    config: dict, name: str, source="configuration", maps_exist_required: bool = True
) -> LensModelInput:
    """Resolve one lens model of the configuration; see :func:`lens_model_inputs`."""
    models = (config.get("lens") or {}).get("models") or {}
    if name not in models:
        raise InputError(
            source,
            f"field 'lens.models': no lens model named {name!r} "
            f"(known: {', '.join(models) or 'none'})",
        )
    prefix = model_prefix(models[name])
    z_config, field = configured_z_lens(config, name)
    missing = [p for p in hff_paths(prefix).values() if not p.is_file()]
    if missing and maps_exist_required:
        raise InputError(
            missing[0],
            f"map file of lens model {name!r} is missing (prefix {prefix!r}, field "
            f"'lens.models.{name}' of {source})",
        )
    z_header, header_path = read_hff_z_lens(prefix)
    if z_config is not None and z_header is not None:
        if abs(z_config - z_header) > Z_LENS_TOLERANCE:
            raise InputError(
                header_path,
                f"Z_LENS = {z_header} in the header of lens model {name!r} differs from "
                f"{field} = {z_config} in {source} by more than {Z_LENS_TOLERANCE}; "
                "correct one of them",
            )
    if z_config is not None:
        return LensModelInput(name, prefix, z_config, field)
    if z_header is not None:
        return LensModelInput(name, prefix, z_header, f"Z_LENS in {header_path}")
    if missing:
        return LensModelInput(
            name, prefix, None, "not known yet: the maps are not written; read from Z_LENS"
        )
    raise InputError(
        source,
        f"lens model {name!r} has no lens redshift: set lens.models.{name}.z_lens (or the "
        f"default lens.z_lens), or a Z_LENS keyword in the headers of its maps "
        f"{prefix}_*.fits",
    )


def lens_model_inputs(
    config: dict,
    source="configuration",
    names=None,
    maps_exist_required: bool = True,
) -> dict[str, LensModelInput]:
    """Prefix and lens redshift of the configured lens models.

    Parameters
    ----------
    config : dict
        The configuration; its ``lens`` section is used.
    source : str or os.PathLike, optional
        The configuration file, named in errors.
    names : iterable of str, optional
        The models to resolve (e.g. those the sample sheet uses); default all of
        ``lens.models``.
    maps_exist_required : bool, optional
        Refuse a model whose map files are missing (default). Pass False when the workflow
        writes the maps (the mock): a missing map is then skipped, and a model with no
        configured lens redshift gets ``z_lens`` None until its maps exist.

    Returns
    -------
    dict of str to LensModelInput
        Keyed by model name.

    Raises
    ------
    InputError
        When a model is not configured, its map files are missing (``maps_exist_required``),
        a configured lens redshift and the maps' ``Z_LENS`` differ by more than
        :data:`ohmap.io.hff.Z_LENS_TOLERANCE` (naming the map file, Z_LENS and the field), or
        no lens redshift is known at all (naming the model).
    """
    models = (config.get("lens") or {}).get("models") or {}
    names = list(models) if names is None else list(dict.fromkeys(names))
    return {name: lens_model_input(config, name, source, maps_exist_required) for name in names}


def galaxy_magnification(
    prefix, z_lens, galaxy: dict, z_lens_field: str | None = None
) -> tuple[float, str]:
    """|mu| at a galaxy's position through its lens model, and a sentence saying where it is from.

    Parameters
    ----------
    prefix : str or os.PathLike or None
        The HFF map prefix of the galaxy's lens model; None for a galaxy without one, whose
        magnification is then 1 (its SFR is the observed one, not corrected for lensing).
    z_lens : float or None
        The model's resolved lens redshift (None: the maps' ``Z_LENS``).
    galaxy : dict
        ``galaxy_id``, ``ra_deg``, ``dec_deg``, ``redshift``, ``lens_model``.
    z_lens_field : str, optional
        The configuration field ``z_lens`` came from, named when it disagrees with the maps.
    """
    from .lensing import LensModel

    if prefix is None:
        return 1.0, "no lens model: magnification 1, the SFR is not corrected for lensing"
    lens = LensModel.from_hff(prefix, z_lens, name=galaxy["lens_model"], z_lens_field=z_lens_field)
    mu = float(lens.magnification(galaxy["ra_deg"], galaxy["dec_deg"], galaxy["redshift"]))
    return mu, f"lens model {galaxy['lens_model']} (z_lens = {lens.z_lens:g})"
