"""Strong-line metallicity calibrations, kept as data in ``ohmap/data/calibrations.yaml``."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
import yaml

DEFAULT_CALIBRATION = "maiolino2008"


@lru_cache(maxsize=None)
def load_calibrations() -> dict:
    """All calibrations shipped with ohmap, as the nested dict of the YAML file."""
    text = resources.files("ohmap").joinpath("data/calibrations.yaml").read_text()
    return yaml.safe_load(text)


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
    cal = load_calibrations()[calibration]
    entry = cal["ratios"][line]
    x = np.asarray(oh12, dtype=float) - cal["x_offset"]
    return np.polynomial.polynomial.polyval(x, entry["coefficients"])


def ratio_denominator(line: str, calibration: str = DEFAULT_CALIBRATION) -> str:
    """The line a calibrated ratio is taken relative to (``"Hb"`` or ``"Ha"``)."""
    return load_calibrations()[calibration]["ratios"][line]["denominator"]
