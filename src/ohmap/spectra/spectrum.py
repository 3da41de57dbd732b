"""The one in-memory model of a 2D grism spectrum that every reader normalises into."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ohmap.errors import InputError

from .grisms import get_grism

#: Offset between the telescope roll (PA_V3) and the grism dispersion axis on the sky,
#: PA_disp = PA_V3 - 45 deg (Wang et al. 2017, Table 1 note).
DISPERSION_PA_OFFSET = 45.0


def pa_v3_from_dispersion_pa(dispersion_pa: float) -> float:
    """PA_V3 (deg, in [0, 360)) from the dispersion position angle (deg)."""
    return float((dispersion_pa + DISPERSION_PA_OFFSET) % 360.0)


def dispersion_pa_from_pa_v3(pa_v3: float) -> float:
    """Dispersion position angle (deg, in [0, 360)) from PA_V3 (deg)."""
    return float((pa_v3 - DISPERSION_PA_OFFSET) % 360.0)


def pa_label(pa_v3: float) -> str:
    """Three-digit label of a PA_V3 as used in file names and wildcards, e.g. ``'032'``."""
    return f"{int(round(pa_v3)) % 360:03d}"


@dataclass
class Spectrum2D:
    """A 2D slitless spectrum of one galaxy at one position angle in one grism.

    All images have shape ``(ny, nx)``: rows run along the spatial direction (perpendicular to
    the dispersion), columns along the dispersion.

    Attributes
    ----------
    galaxy : str
        Galaxy identifier (e.g. ``"01422"``).
    pa_v3 : float
        Telescope roll angle PA_V3 in degrees.
    dispersion_pa : float
        Position angle of the dispersion axis on the sky, degrees east of north.
    grism : str
        ``"G102"`` or ``"G141"``.
    science : ndarray
        Observed flux density per pixel, 1e-17 erg/s/cm^2/Angstrom.
    error : ndarray
        1-sigma uncertainty of ``science``, same unit; ``inf`` marks pixels without data.
    contamination : ndarray
        Model of the flux from overlapping neighbours, same unit.
    continuum : ndarray
        Model of the galaxy's own continuum, same unit.
    wavelength : ndarray
        Wavelength of each column in Angstrom (vacuum), shape ``(nx,)``.
    pixel_scale : float
        Spatial pixel scale in arcsec per pixel.
    source : str
        The file the spectrum was read from.
    exposure_time : float or None
        Exposure time in seconds, where the file says.
    direct_image, segmentation : ndarray or None
        Direct-image stamp (arbitrary flux unit) and segmentation map, where the file has them.
    meta : dict
        Anything else a reader wants to keep (header cards, conversion factors).
    """

    galaxy: str
    pa_v3: float
    dispersion_pa: float
    grism: str
    science: np.ndarray
    error: np.ndarray
    contamination: np.ndarray
    continuum: np.ndarray
    wavelength: np.ndarray
    pixel_scale: float
    source: str = ""
    exposure_time: float | None = None
    direct_image: np.ndarray | None = None
    segmentation: np.ndarray | None = None
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        self.grism = get_grism(self.grism, self.source).name
        self.science = np.asarray(self.science, dtype=float)
        self.error = np.asarray(self.error, dtype=float)
        self.contamination = np.asarray(self.contamination, dtype=float)
        self.continuum = np.asarray(self.continuum, dtype=float)
        self.wavelength = np.asarray(self.wavelength, dtype=float)
        self.validate()

    @property
    def shape(self) -> tuple[int, int]:
        return self.science.shape

    @property
    def pa(self) -> str:
        """Three-digit PA_V3 label, e.g. ``'032'``."""
        return pa_label(self.pa_v3)

    @property
    def valid(self) -> np.ndarray:
        """Boolean mask of pixels with data (finite, positive error)."""
        return np.isfinite(self.error)

    def validate(self) -> None:
        """Check shapes and values; raise :class:`~ohmap.errors.InputError` naming the file."""
        src = self.source or None
        if self.science.ndim != 2:
            raise InputError(src, f"science array must be 2D, got shape {self.science.shape}")
        for name in ("error", "contamination", "continuum"):
            arr = getattr(self, name)
            if arr.shape != self.science.shape:
                raise InputError(
                    src,
                    f"{name} array has shape {arr.shape} but the science array has "
                    f"shape {self.science.shape}",
                )
        if self.wavelength.shape != (self.science.shape[1],):
            raise InputError(
                src,
                f"wavelength array has {self.wavelength.size} entries but the spectrum has "
                f"{self.science.shape[1]} columns",
            )
        if not np.all(np.isfinite(self.wavelength)) or np.any(np.diff(self.wavelength) <= 0):
            raise InputError(src, "wavelength grid is not finite and strictly increasing")
        if np.any(np.isnan(self.error)):
            raise InputError(src, f"error array has {int(np.isnan(self.error).sum())} NaN values")
        if np.any(self.error <= 0):
            raise InputError(
                src, f"error array has {int((self.error <= 0).sum())} zero or negative values"
            )
        if not np.any(np.isfinite(self.error)):
            raise InputError(src, "no pixel has a finite error (all weights are zero)")
        good = np.isfinite(self.error)
        for name in ("science", "contamination", "continuum"):
            if not np.all(np.isfinite(getattr(self, name)[good])):
                raise InputError(src, f"{name} array has non-finite values where data are valid")
        if not (np.isfinite(self.pixel_scale) and self.pixel_scale > 0):
            raise InputError(src, f"spatial pixel scale must be positive, got {self.pixel_scale}")
