"""WFC3/IR grism facts: usable wavelength ranges and nominal dispersions."""

from __future__ import annotations

from dataclasses import dataclass

from ohmap.errors import InputError


@dataclass(frozen=True)
class Grism:
    """A WFC3/IR grism as ohmap uses it.

    Attributes
    ----------
    name : str
        ``"G102"`` or ``"G141"``.
    wavelength_min, wavelength_max : float
        Usable wavelength range in Angstrom (Wang et al. 2017, Sect. 2 and 4.3).
    dispersion_interlaced : float
        Angstrom per interlaced (0.065 arcsec) pixel along the dispersion axis.
    dispersion_native : float
        Angstrom per native (0.128 arcsec) WFC3/IR pixel.
    """

    name: str
    wavelength_min: float
    wavelength_max: float
    dispersion_interlaced: float
    dispersion_native: float

    def covers(self, wavelength: float) -> bool:
        """True when an observed wavelength (Angstrom) lies in the usable range."""
        return self.wavelength_min <= wavelength <= self.wavelength_max


G102 = Grism("G102", 8000.0, 11500.0, 12.0, 24.5)
G141 = Grism("G141", 10750.0, 17000.0, 22.0, 46.5)
GRISMS = {"G102": G102, "G141": G141}


def get_grism(name: str, source=None) -> Grism:
    """Return the :class:`Grism` called ``name``; an unknown name raises :class:`~ohmap.errors.InputError`."""
    key = str(name).strip().upper()
    if key not in GRISMS:
        raise InputError(source, f"unknown grism {name!r}; ohmap knows {', '.join(GRISMS)}")
    return GRISMS[key]


def lines_in_range(redshift: float, grism: Grism, lines) -> list:
    """The lines (from ``lines``) whose observed wavelength falls in the grism's usable range."""
    return [line for line in lines if grism.covers(line.wavelength * (1.0 + redshift))]
