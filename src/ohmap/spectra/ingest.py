"""Read one galaxy's spectrum at one PA and grism, whatever the input format."""

from __future__ import annotations

from ohmap.errors import InputError

from .glass import read_glass_2d
from .grizli_beams import read_grizli_beams
from .grizli_stack import read_grizli_stack
from .spectrum import Spectrum2D


def read_spectrum(
    path, spectra_format: str, galaxy: str, pa: str, grism: str, calibration_dir=None
) -> Spectrum2D:
    """One :class:`~ohmap.spectra.spectrum.Spectrum2D` from a GLASS file, a grizli stack or a grizli beams file.

    Parameters
    ----------
    path : path-like
        GLASS ``*.2D.fits`` for this PA and grism, a grizli ``*.stack.fits`` or a grizli
        ``*.beams.fits``.
    spectra_format : {"glass", "grizli", "grizli_beams"}
    galaxy, pa, grism : str
        Galaxy id, three-digit PA_V3 label and grism wanted.
    calibration_dir : path-like, optional
        aXe configuration folder, for grizli stacks in counts/s and beams files without TRACE.

    Raises
    ------
    InputError
        When the file holds no spectrum at ``pa`` and ``grism``; for grizli files the message
        lists the labels the file has and how they were derived (:func:`available_labels`).
    """
    if spectra_format == "glass":
        spec = read_glass_2d(path, galaxy=galaxy)
        if spec.pa != pa or spec.grism != grism:
            raise InputError(path, f"holds PA {spec.pa} {spec.grism}, expected PA {pa} {grism}")
        return spec
    if spectra_format in ("grizli", "grizli_beams"):
        reader = read_grizli_stack if spectra_format == "grizli" else read_grizli_beams
        blocks = reader(path, calibration_dir=calibration_dir, galaxy=galaxy)
        for spec in blocks:
            if spec.pa == pa and spec.grism == grism:
                return spec
        raise InputError(path, f"has no block for PA {pa} {grism} {available_labels(blocks)}")
    raise InputError(path, f"unknown spectra_format {spectra_format!r}")


def available_labels(blocks) -> str:
    """The PA-grism labels a grizli file gives, how each was derived and how to ask for one.

    grizli writes the *dispersion* PA (stack: in ``EXTVER``; beams: computed from the exposure's
    WCS and trace), ohmap labels by PA_V3 = dispersion PA + 45 deg as three digits
    (:func:`~ohmap.spectra.spectrum.pa_label`).
    """
    have = ", ".join(f"{s.pa}-{s.grism}" for s in blocks)
    how = "; ".join(
        str(s.meta.get("pa_label_from", f"{s.grism}: PA_V3 {s.pa_v3:g}")) for s in blocks
    )
    example = blocks[0] if blocks else None
    ask = (
        f' Ask for one in the config\'s observations as {{pa: "{example.pa}", grism: '
        f"{example.grism}}} (three digits, quoted) or in the sample sheet's observations column "
        f"as {example.pa}-{example.grism}."
        if example is not None
        else ""
    )
    return (
        f"(it has {have}). Labels are PA_V3 = dispersion PA + 45 deg, rounded to a whole degree, "
        f"as three digits: {how}.{ask}"
    )
