"""The mock's truth parameters: the 14 galaxies of Wang et al. (2017, Tables 2 and 5) and the
mock cluster, read from ``resources/``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import yaml
from astropy.table import Table

from ohmap.errors import InputError


@dataclass
class Clump:
    """An off-centre star-forming clump (source plane)."""

    distance_kpc: float
    pa_deg: float
    sigma_kpc: float
    sfr_fraction: float
    oh12_offset_dex: float
    mass_fraction: float


@dataclass
class MockGalaxy:
    """Truth parameters of one mock galaxy."""

    galaxy_id: str
    ra: float
    dec: float
    redshift: float
    lens_model: str
    log_mstar: float
    log_mstar_err_lo: float
    log_mstar_err_hi: float
    h160_abmag: float
    oh12_global: float
    gradient: float
    sfr: float
    av: float
    nii_ha: float | None
    sf_scale_kpc: float
    mass_scale_kpc: float
    axis_ratio: float
    pa_deg: float
    beta: float
    clumps: list = field(default_factory=list)
    oh12_center: float = np.nan

    @property
    def inclination_deg(self) -> float:
        """Inclination of a thin disk with this axis ratio."""
        return float(np.degrees(np.arccos(np.clip(self.axis_ratio, 0.0, 1.0))))

    @property
    def nii_ha_used(self) -> float:
        return 0.05 if self.nii_ha is None else self.nii_ha


def _read_tsv(path) -> Table:
    return Table.read(path, format="ascii.tab", comment="#", converters={"galaxy_id": str})


def _value_from_limit(value: float, limit: str, rules: dict, kind: str) -> float:
    if limit == "<":
        return value * rules[f"{kind}_upper_fraction"]
    if limit == ">":
        return value * rules[f"{kind}_lower_factor"]
    return value


def load_mock_inputs(table2, table5, mock_yaml) -> tuple[list[MockGalaxy], dict]:
    """Read the paper's tables and the mock's own settings into :class:`MockGalaxy` objects.

    Returns
    -------
    galaxies : list of MockGalaxy
    cluster : dict
        The ``cluster`` section of ``mock_yaml`` (lens models, z_lens, map geometry).
    """
    t2 = _read_tsv(table2)
    t5 = {str(r["galaxy_id"]).zfill(5): float(r["gradient_spaxel"]) for r in _read_tsv(table5)}
    with open(mock_yaml) as fh:
        mock = yaml.safe_load(fh)
    rules = mock["limit_rules"]
    galaxies = []
    for row in t2:
        gid = str(row["galaxy_id"]).zfill(5)
        if gid not in mock["galaxies"]:
            raise InputError(mock_yaml, f"galaxy {gid} of {table2} has no entry under 'galaxies'")
        extra = mock["galaxies"][gid]
        sfr_limit = "" if np.ma.is_masked(row["sfr_limit"]) else str(row["sfr_limit"])
        av_limit = "" if np.ma.is_masked(row["av_neb_limit"]) else str(row["av_neb_limit"])
        galaxies.append(
            MockGalaxy(
                galaxy_id=gid,
                ra=float(row["ra_deg"]),
                dec=float(row["dec_deg"]),
                redshift=float(row["redshift"]),
                lens_model=extra["lens_model"],
                log_mstar=float(row["log_mstar"]),
                log_mstar_err_lo=float(row["log_mstar_err_lo"]),
                log_mstar_err_hi=float(row["log_mstar_err_hi"]),
                h160_abmag=float(row["h160_abmag"]),
                oh12_global=float(row["oh12"]),
                gradient=t5.get(gid, 0.0),
                sfr=_value_from_limit(float(row["sfr_msun_yr"]), sfr_limit, rules, "sfr"),
                av=_value_from_limit(float(row["av_neb"]), av_limit, rules, "av"),
                nii_ha=extra.get("nii_ha"),
                sf_scale_kpc=float(extra["sf_scale_kpc"]),
                mass_scale_kpc=float(extra["mass_scale_kpc"]),
                axis_ratio=float(extra["axis_ratio"]),
                pa_deg=float(extra["pa_deg"]),
                beta=float(extra["beta"]),
                clumps=[Clump(**c) for c in extra.get("clumps", [])],
            )
        )
    return galaxies, mock["cluster"]


def select_galaxies(galaxies, wanted="all") -> list:
    """The mock galaxies named in ``wanted`` (a list of ids, or ``"all"``), in table order."""
    return [g for g in galaxies if wanted == "all" or g.galaxy_id in wanted]
