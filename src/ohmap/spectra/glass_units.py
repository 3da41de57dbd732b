"""What the units and keywords of a GLASS / 3D-HST ``*.2D.fits`` file say its numbers are.

The reader (:mod:`ohmap.spectra.glass`) never guesses a unit silently:

* ``BUNIT`` strings are parsed with :mod:`astropy.units` after a small normalisation
  (:func:`parse_unit`), so the spellings found in 3D-HST/GLASS headers (``ELECTRONS/S``,
  ``e-/s``, ``(ELECTRONS/S)**-2``) mean what they say;
* what the ``WHT`` extension holds (1-sigma error, variance or inverse variance) is decided by
  :func:`weight_convention` from WHT's ``BUNIT`` and the primary ``WHTERROR`` keyword;
* :func:`check_normalised_scatter` measures, on the data, whether the errors so read describe
  the pixel-to-pixel scatter, which catches a WHT whose label is wrong.
"""

from __future__ import annotations

import ast
import logging
import re
from dataclasses import dataclass

import astropy.units as u
import numpy as np

from ohmap.errors import InputError

log = logging.getLogger(__name__)

#: The count rate every image extension must be in (convertible to).
COUNT_RATE = u.electron / u.s
#: The documented unit of SENS: count rate per 1e-17 erg/s/cm^2/Angstrom, per native pixel.
SENS_UNIT = COUNT_RATE / (1e-17 * u.erg / u.s / u.cm**2 / u.Angstrom)
SENS_UNIT_TEXT = "(electron/s)/(1e-17 erg/s/cm2/Angstrom)"
#: Powers of the count rate that WHT may carry, and what each means.
WEIGHT_POWERS = {"error": 1, "inverse_variance": -2, "variance": 2}
WEIGHT_WORDS = {
    "error": "a 1-sigma error",
    "inverse_variance": "an inverse variance",
    "variance": "a variance",
}
WEIGHT_BUNITS = {
    "error": "electron/s",
    "inverse_variance": "(electron/s)**-2",
    "variance": "(electron/s)**2",
}
#: Band of the robust scatter of (SCI - CONTAM - MODEL) / sigma that errors must give. Right
#: errors give ~1: 0.97-1.14 on the 84 mock spectra (lines, neighbours, continuum and
#: contamination models off by a few per cent included), the same whether WHT is written as an
#: error, a variance or an inverse variance. Real spectra stay within a factor ~2 of 1: noise
#: correlated by drizzling lowers the pixel-to-pixel scatter, imperfect models of bright
#: continua and neighbours raise it, and the median absolute deviation ignores the (up to half
#: of the) pixels that lines, the galaxy or a neighbour cover. A misread WHT gives sigma**k
#: instead (sigma in e-/s, 0.005-0.1 per GLASS/3D-HST pixel): k = 3 for an inverse variance read
#: as an error (1e-7-1e-3), 2 for an inverse variance or variance read as the other, 1.5 for an
#: error read as an inverse variance, -1 for a variance read as an error (10-200). A factor 10
#: either way of 1 passes every real spectrum and refuses all of these; only an error read as a
#: variance (k = 0.5, 0.07-0.3) can slip through, and it errs on the safe side (errors too large).
SCATTER_BAND = (0.1, 10.0)
#: Below this many pixels with data the scatter is too noisy to judge and is not checked.
SCATTER_MIN_PIXELS = 50

# Spellings of header units that astropy does not know (or reads as something else: ``S`` is
# siemens to astropy, but always seconds in a spectrum header), lower-cased.
_ALIASES = {
    "e": "electron",
    "e-": "electron",
    "electrons": "electron",
    "elec": "electron",
    "s": "s",
    "sec": "s",
    "second": "s",
    "seconds": "s",
    "angstroms": "Angstrom",
    "microns": "micron",
    "ergs": "erg",
    "pixel": "pix",
    "pixels": "pix",
}
_TOKEN = re.compile(
    r"(?P<space>\s+)"
    r"|(?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[^\W\d]+(?:[+-]?\d+|-(?=[\s/*)]|$))?)"
    r"|(?P<op>\*\*|\^|[*/().+-])"
)


def parse_unit(text: str) -> u.UnitBase:
    """Parse a FITS ``BUNIT``-like string into an astropy unit.

    astropy's parsers reject parenthesised quotients such as ``(electron/s)**-2`` and spellings
    such as ``ELECTRONS`` or ``e-``; here the string is split into unit names, numbers and the
    operators ``* / ** ^ ( )`` (juxtaposition and ``.`` multiply), each name is mapped through a
    short alias table and parsed by astropy with ``parse_strict='raise'``, and the expression is
    evaluated on the resulting units.

    Parameters
    ----------
    text : str
        The unit string, e.g. ``'ELECTRONS/S'``, ``'(electron/s)/(1e-17 erg/s/cm2/Angstrom)'``.

    Returns
    -------
    astropy.units.UnitBase

    Raises
    ------
    ValueError
        When a name is not a unit or the expression is malformed.
    """
    pieces, units, previous = [], {}, None
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise ValueError(f"unexpected character {text[pos]!r}")
        pos = match.end()
        kind, value = match.lastgroup, match.group()
        if kind == "space":
            continue
        if kind in ("name", "number") or value == "(":
            if previous in ("name", "number", ")"):
                pieces.append("*")  # juxtaposition multiplies, as in FITS 'erg s-1'
        if kind == "name":
            key = f"_u{len(units)}"
            units[key] = _unit_atom(value)
            pieces.append(key)
        elif kind == "number":
            pieces.append(value)
        else:
            pieces.append({"^": "**", ".": "*"}.get(value, value))
        previous = value if kind == "op" else kind
    if not pieces:
        raise ValueError("the unit is empty")
    try:
        tree = ast.parse(" ".join(pieces), mode="eval")
    except SyntaxError:
        raise ValueError("the expression is malformed") from None
    result = _evaluate(tree.body, units)
    if not isinstance(result, u.UnitBase):
        result = u.Unit(result)
    return result


def _unit_atom(name: str) -> u.UnitBase:
    """One unit name with an optional FITS-style integer power (``cm2``, ``s-1``)."""
    base, power = re.fullmatch(r"(.*?)([+-]?\d+)?", name).groups()
    base = _ALIASES.get(base.lower(), base)
    try:
        unit = u.Unit(base, parse_strict="raise")
    except ValueError:
        if not base.isupper():
            raise ValueError(f"{base!r} is not a unit astropy knows") from None
        try:  # all-capitals headers (ERG, CM2, ANGSTROM) of the pre-astropy era
            unit = u.Unit(base.lower(), parse_strict="raise")
        except ValueError:
            raise ValueError(f"{base!r} is not a unit astropy knows") from None
    return unit ** int(power) if power else unit


def _evaluate(node, units):
    """Evaluate a parsed unit expression: names, numbers, ``* / **`` and unary signs only."""
    if isinstance(node, ast.Name) and node.id in units:
        return units[node.id]
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _evaluate(node.operand, units)
        if not isinstance(value, (int, float)):
            raise ValueError("a sign may only stand before a number")
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div, ast.Pow)):
        left, right = _evaluate(node.left, units), _evaluate(node.right, units)
        if isinstance(node.op, ast.Pow):
            if not isinstance(right, (int, float)):
                raise ValueError("a power must be a number")
            return left**right
        return left * right if isinstance(node.op, ast.Mult) else left / right
    raise ValueError("the expression has an operator that is not * / ** ^")


def _exact(factor: float) -> float:
    """1.0 for a factor that is 1 up to rounding in astropy's conversion, so that a file in the
    documented units is read bit for bit."""
    return 1.0 if abs(factor - 1.0) < 1e-12 else factor


def header_unit(header) -> str | None:
    """The ``BUNIT`` of a header, ``None`` when absent or blank (blank states nothing)."""
    value = header.get("BUNIT")
    if value is None or not str(value).strip():
        return None
    return str(value).strip()


def unit_factor(path, extension: str, header, target, accepted: str, missing: list) -> float:
    """Factor taking an extension's values from its ``BUNIT`` to ``target``.

    Parameters
    ----------
    path : path-like
        The file, for messages.
    extension : str
        The extension's name, for messages.
    header : astropy.io.fits.Header
        The extension's header.
    target : astropy.units.UnitBase
        The unit wanted.
    accepted : str
        Words for what would be accepted, for messages.
    missing : list
        ``extension`` is appended when the header has no ``BUNIT`` (factor 1: the documented
        unit is assumed), so that the caller can say so once for all extensions.

    Returns
    -------
    float

    Raises
    ------
    InputError
        When ``BUNIT`` does not parse or is not convertible to ``target``.
    """
    text = header_unit(header)
    if text is None:
        missing.append(extension)
        return 1.0
    try:
        unit = parse_unit(text)
    except ValueError as err:
        raise InputError(
            path,
            f"extension {extension} has BUNIT = {text!r}, which is not a unit ({err}); "
            f"expected {accepted}",
        ) from None
    if not unit.is_equivalent(target):
        raise InputError(
            path,
            f"extension {extension} has BUNIT = {text!r} ({unit}), which is not {accepted}",
        )
    return _exact(float(unit.to(target)))


@dataclass(frozen=True)
class WeightConvention:
    """What the WHT extension holds and how it was decided.

    Attributes
    ----------
    kind : {"error", "inverse_variance", "variance"}
    factor : float
        Takes WHT's values to ``COUNT_RATE ** WEIGHT_POWERS[kind]``.
    source : str
        Where the decision came from, in words (for logs and messages).
    """

    kind: str
    factor: float
    source: str

    @property
    def words(self) -> str:
        return WEIGHT_WORDS[self.kind]


def weight_convention(path, wht_header, primary, sci_factor: float) -> WeightConvention:
    """Decide what WHT holds from its ``BUNIT`` (relative to SCI's unit) and ``WHTERROR``.

    ``BUNIT`` equal to SCI's unit means a 1-sigma error, SCI's unit to the power -2 an inverse
    variance and to the power 2 a variance; ``WHTERROR = T`` means a 1-sigma error and ``F`` a
    weight (inverse variance). When both are present they must agree; when neither is, the
    GLASS / 3D-HST convention (1-sigma error, in SCI's unit) is assumed and logged.

    Parameters
    ----------
    path : path-like
        The file, for messages.
    wht_header, primary : astropy.io.fits.Header
        Headers of the WHT extension and of the primary HDU.
    sci_factor : float
        Factor taking SCI's values to e-/s (from SCI's ``BUNIT``).

    Returns
    -------
    WeightConvention

    Raises
    ------
    InputError
        When WHT's ``BUNIT`` is not one of the three, ``WHTERROR`` is not a boolean, or the
        two disagree.
    """
    from_unit = None
    text = header_unit(wht_header)
    if text is not None:
        from_unit = _convention_from_unit(path, text)
    from_flag = None
    if "WHTERROR" in primary:
        flag = primary["WHTERROR"]
        if not isinstance(flag, (bool, np.bool_)):
            raise InputError(
                path,
                f"primary keyword WHTERROR = {flag!r} is not a FITS boolean; expected T (WHT "
                "is a 1-sigma error) or F (WHT is a weight, i.e. an inverse variance)",
            )
        kind = "error" if flag else "inverse_variance"
        factor = sci_factor ** WEIGHT_POWERS[kind]
        from_flag = WeightConvention(kind, factor, f"WHTERROR = {'T' if flag else 'F'}")
    if from_unit is not None and from_flag is not None:
        if from_unit.kind != from_flag.kind:
            raise InputError(
                path,
                f"extension WHT has BUNIT = {text!r}, i.e. {from_unit.words}, but the primary "
                f"keyword {from_flag.source} says it is {from_flag.words}; make them agree "
                "(WHTERROR = T: a 1-sigma error, F: an inverse variance) or drop WHTERROR",
            )
        return WeightConvention(
            from_unit.kind, from_unit.factor, f"{from_unit.source} and {from_flag.source}"
        )
    if from_unit is not None or from_flag is not None:
        return from_unit or from_flag
    log.info(
        "%s: WHT has no BUNIT and the primary header no WHTERROR; assuming the GLASS/3D-HST "
        "convention, WHT = 1-sigma error of SCI in SCI's unit",
        path,
    )
    return WeightConvention("error", sci_factor, "the GLASS/3D-HST convention (assumed)")


def _convention_from_unit(path, text: str) -> WeightConvention:
    try:
        unit = parse_unit(text)
    except ValueError as err:
        unit, problem = None, f", which is not a unit ({err})"
    else:
        problem = f" ({unit}), which is not SCI's unit to the power 1, -2 or 2"
    # SCI is a count rate (checked before), so "SCI's unit to a power" is a question of
    # dimension; the scale of WHT's own unit goes into the factor to e-/s.
    for kind, power in WEIGHT_POWERS.items():
        if unit is not None and unit.is_equivalent(COUNT_RATE**power):
            factor = _exact(float(unit.to(COUNT_RATE**power)))
            return WeightConvention(kind, factor, f"WHT BUNIT = {text!r}")
    raise InputError(
        path,
        f"extension WHT has BUNIT = {text!r}{problem}; WHT must be in SCI's unit (a 1-sigma "
        "error, e.g. 'electron/s'), its inverse square (an inverse variance, e.g. "
        "'(electron/s)**-2') or its square (a variance, e.g. '(electron/s)**2')",
    )


def weight_to_sigma(path, wht, convention: WeightConvention) -> np.ndarray:
    """1-sigma error in e-/s from WHT's values; ``inf`` where WHT says there are no data.

    An error or variance of 0, and an inverse variance of 0 or below, mark pixels without data;
    NaN anywhere, a negative error or variance, and an infinite inverse variance are refused.

    Parameters
    ----------
    path : path-like
        The file, for messages.
    wht : ndarray
        WHT's values.
    convention : WeightConvention

    Returns
    -------
    ndarray

    Raises
    ------
    InputError
    """
    where = f"WHT ({convention.words}, from {convention.source})"
    if np.any(np.isnan(wht)):
        raise InputError(path, f"{where} has {int(np.isnan(wht).sum())} NaN values")
    values = wht * convention.factor
    with np.errstate(divide="ignore", invalid="ignore"):
        if convention.kind == "inverse_variance":
            if np.any(np.isposinf(values)):
                raise InputError(path, f"{where} has infinite values (zero error)")
            sigma = np.where(values > 0, 1.0 / np.sqrt(values), np.inf)
        else:
            if np.any(values < 0):
                raise InputError(
                    path,
                    f"{where} has {int((values < 0).sum())} negative values; expected "
                    "positive values and 0 where there are no data",
                )
            sigma = values if convention.kind == "error" else np.sqrt(values)
            sigma = np.where(sigma > 0, sigma, np.inf)
    if not np.any(np.isfinite(sigma)):
        raise InputError(path, f"{where} has no pixel with data (zero everywhere)")
    return sigma


def robust_scatter(values) -> float:
    """1.4826 times the median absolute deviation: the standard deviation for Gaussian data."""
    values = np.asarray(values, dtype=float)
    return float(1.4826 * np.median(np.abs(values - np.median(values))))


def check_normalised_scatter(
    path, residual, sigma, good, convention: WeightConvention, wht=None, sci_factor: float = 1.0
) -> float:
    """Refuse errors that do not describe the pixel-to-pixel scatter of the data.

    Parameters
    ----------
    path : path-like
        The file, for messages.
    residual : ndarray
        ``SCI - CONTAM - MODEL`` in e-/s.
    sigma : ndarray
        The 1-sigma error in e-/s that WHT was read as.
    good : ndarray of bool
        Pixels with data.
    convention : WeightConvention
        How WHT was read.
    wht : ndarray, optional
        WHT's raw values, to say in the message what the other readings would give.
    sci_factor : float
        Factor taking SCI's unit to e-/s (the other readings take WHT in SCI's unit).

    Returns
    -------
    float
        The robust scatter of ``residual / sigma`` (NaN when too few pixels to judge).

    Raises
    ------
    InputError
        When the scatter is outside :data:`SCATTER_BAND`; the message says which reading of
        WHT would have given a scatter within it and the BUNIT / WHTERROR that says so.
    """
    n_good = int(good.sum())
    if n_good < SCATTER_MIN_PIXELS:
        log.info("%s: only %d pixels with data; the scale of WHT is not checked", path, n_good)
        return float("nan")
    scatter = robust_scatter(residual[good] / sigma[good])
    low, high = SCATTER_BAND
    if low <= scatter <= high:
        return scatter
    hint = "no other reading of WHT gives a scatter in that band either: check SCI, MODEL, CONTAM"
    for kind, power in WEIGHT_POWERS.items():
        if kind == convention.kind or wht is None:
            continue
        # The raw values read in SCI's unit to this power, as the BUNIT would say.
        other = WeightConvention(kind, sci_factor**power, "")
        values = np.where(good, np.abs(wht), 0.0)
        alt_sigma = weight_to_sigma(path, values, other) if np.any(values > 0) else sigma
        alt = robust_scatter(residual[good] / alt_sigma[good])
        if low <= alt <= high:
            flag = {"error": " or WHTERROR = T", "inverse_variance": " or WHTERROR = F"}
            hint = (
                f"read as {other.words} WHT gives {alt:.3g}: if that is what it holds, the "
                f"file should carry WHT BUNIT = '{WEIGHT_BUNITS[kind]}'{flag.get(kind, '')}"
            )
            break
    raise InputError(
        path,
        f"WHT read as {convention.words} (from {convention.source}) gives (SCI - CONTAM - "
        f"MODEL) / sigma a robust scatter of {scatter:.3g} over {n_good} pixels, outside "
        f"{low:g}-{high:g} (errors that describe the data give about 1); {hint}",
    )
