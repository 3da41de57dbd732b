"""Figures. Every function writes one file and closes its figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .lines import ALL_LINES  # noqa: E402


def plot_spectra(spectra, redshift: float, path) -> None:
    """One panel per PA-grism 2D spectrum (contamination subtracted), expected lines marked."""
    n = len(spectra)
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.6 * n + 0.6), squeeze=False)
    for ax, spec in zip(axes[:, 0], spectra):
        clean = np.where(spec.valid, spec.science - spec.contamination, np.nan)
        lo, hi = np.nanpercentile(clean, [5, 99.5]) if np.isfinite(clean).any() else (0, 1)
        extent = (spec.wavelength[0] / 1e4, spec.wavelength[-1] / 1e4, 0, spec.shape[0])
        ax.imshow(clean, origin="lower", aspect="auto", cmap="gray_r", vmin=lo, vmax=hi, extent=extent)
        for line in ALL_LINES:
            lam = line.wavelength * (1 + redshift) / 1e4
            if extent[0] < lam < extent[1]:
                ax.axvline(lam, color="tab:red", lw=0.6, alpha=0.6)
                ax.text(lam, spec.shape[0] * 0.92, line.label, color="tab:red", fontsize=6, rotation=90,
                        ha="right", va="top")
        ax.set_ylabel(f"PA {spec.pa}\n{spec.grism}", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("observed wavelength [micron]")
    fig.suptitle(f"{spectra[0].galaxy}  z = {redshift:.3f}  (contamination subtracted, "
                 "flux density in 1e-17 erg/s/cm$^2$/A)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
