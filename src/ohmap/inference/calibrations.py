"""Strong-line metallicity calibrations, kept as data in ``ohmap/data/calibrations.yaml``.

Each calibrated ratio is ``log10 R = sum_i c_i x^i`` with ``x = 12 + log(O/H) - x_offset``,
relative to a denominator line (H-beta or H-alpha), with a validity range, an intrinsic scatter
``scatter_dex`` (sigma_R of log10 R), the metallicity where a double-valued curve turns over,
and a reference. :func:`get_calibration` returns one calibration as :class:`Calibration`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

from ohmap.errors import InputError

DEFAULT_CALIBRATION = "maiolino2008"
_REGISTRY = "ohmap/data/calibrations.yaml"


@lru_cache(maxsize=None)
def load_calibrations() -> dict:
    """All calibrations shipped with ohmap, as the nested dict of the YAML file."""
    text = resources.files("ohmap").joinpath("data/calibrations.yaml").read_text()
    return yaml.safe_load(text)


@dataclass(frozen=True)
class Ratio:
    """One calibrated line ratio (see the module notes for the fields' meaning)."""

    line: str
    denominator: str
    coefficients: tuple
    valid: tuple | None
    scatter_dex: float
    turnover: float | None
    reference: str


@dataclass(frozen=True)
class Calibration:
    """A named set of :class:`Ratio` sharing one ``x_offset``."""

    name: str
    x_offset: float
    reference: str
    ratios: dict

    def log_ratio(self, line: str, oh12):
        """log10 of ``line`` relative to its denominator at 12+log(O/H) = ``oh12``."""
        r = self.ratios[line]
        return np.polynomial.polynomial.polyval(
            np.asarray(oh12, dtype=float) - self.x_offset, r.coefficients
        )


@lru_cache(maxsize=None)
def get_calibration(name: str = DEFAULT_CALIBRATION) -> Calibration:
    """The calibration ``name`` of the registry; an unknown name or a malformed entry raises
    :class:`~ohmap.errors.InputError` naming it."""
    registry = load_calibrations()
    if name not in registry:
        raise InputError(
            _REGISTRY, f"no calibration {name!r}; known: {', '.join(sorted(registry))}"
        )
    entry = registry[name]
    ratios = {}
    for line, r in entry["ratios"].items():
        try:
            ratios[line] = Ratio(
                line,
                r["denominator"],
                tuple(float(c) for c in r["coefficients"]),
                tuple(r["valid"]) if r.get("valid") else None,
                float(r.get("scatter_dex", 0.0)),
                None if r.get("turnover") is None else float(r["turnover"]),
                r.get("reference", entry.get("reference", "")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(_REGISTRY, f"calibration {name!r}, ratio {line!r}: {exc!r}") from exc
    return Calibration(name, float(entry["x_offset"]), entry.get("reference", ""), ratios)


def log_ratio(line: str, oh12, calibration: str = DEFAULT_CALIBRATION):
    """log10 of a line's flux relative to its calibration denominator at 12+log(O/H) = ``oh12``.

    Parameters
    ----------
    line : str
        Line name as in :mod:`ohmap.lines` (``"OIII5008"``, ``"OII"``, ``"SII"``, ``"Ha"``, ``"Hg"``).
    oh12 : float or array_like
        Gas-phase metallicity 12 + log(O/H).
    calibration : str
        Name of a calibration in the registry.
    """
    return get_calibration(calibration).log_ratio(line, oh12)


def ratio_denominator(line: str, calibration: str = DEFAULT_CALIBRATION) -> str:
    """The line a calibrated ratio is taken relative to (``"Hb"`` or ``"Ha"``)."""
    return get_calibration(calibration).ratios[line].denominator
