"""Rest-frame emission lines used by ohmap.

Vacuum wavelengths in Angstrom (SDSS DR7 line table, as in Wang et al. 2017). Doublets that the
grisms cannot resolve are carried as one line at the flux-weighted centre: [OII]3727,3730 and
[SII]6718,6733. H-alpha is observed blended with [NII]6550,6585.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class EmissionLine:
    """One emission line (or unresolved blend) as ohmap treats it.

    Attributes
    ----------
    name : str
        Short identifier used in file names and table columns (e.g. ``"OIII5008"``).
    label : str
        Label for figures.
    wavelength : float
        Rest-frame vacuum wavelength in Angstrom.
    """

    name: str
    label: str
    wavelength: float


OII = EmissionLine("OII", "[OII]3727,3730", 3728.48)
HGAMMA = EmissionLine("Hg", "Hgamma", 4341.69)
HBETA = EmissionLine("Hb", "Hbeta", 4862.69)
OIII4960 = EmissionLine("OIII4960", "[OIII]4960", 4960.30)
OIII5008 = EmissionLine("OIII5008", "[OIII]5008", 5008.24)
NII6550 = EmissionLine("NII6550", "[NII]6550", 6549.86)
HALPHA = EmissionLine("Ha", "Halpha", 6564.61)
NII6585 = EmissionLine("NII6585", "[NII]6585", 6585.27)
SII = EmissionLine("SII", "[SII]6718,6733", 6725.48)

#: All lines the mock emits and the extraction step knows, bluest first.
ALL_LINES = (OII, HGAMMA, HBETA, OIII4960, OIII5008, NII6550, HALPHA, NII6585, SII)
LINES_BY_NAME = {line.name: line for line in ALL_LINES}

#: The lines whose maps the workflow produces (H-alpha stays blended with [NII]).
MAP_LINES = ("OII", "Hg", "Hb", "OIII5008", "Ha", "SII")

#: Lines the line-flux model of the inference knows, in the order of every flux vector.
FIT_LINES = ("OII", "Hg", "Hb", "OIII5008", "Ha", "SII")

#: [OIII]5008/[OIII]4960 flux ratio (Storey & Zeippen 2000).
OIII_5008_TO_4960 = 2.98

#: Lines tied to a parent by a fixed flux ratio: name -> (parent, parent / tied flux ratio).
TIED_LINES = {"OIII4960": ("OIII5008", OIII_5008_TO_4960)}
#: [NII]6585/[NII]6550 flux ratio (theoretical, Storey & Zeippen 2000).
NII_6585_TO_6550 = 2.94
#: Case B Balmer ratios relative to H-beta (Hummer & Storey 1987, as in the paper).
HALPHA_TO_HBETA = 2.86
HGAMMA_TO_HBETA = 0.47
