"""Quick-look figure of a galaxy's 2D spectra."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ohmap.io.atomic import save_figure
from ohmap.lines import ALL_LINES


def plot_spectra(spectra, redshift: float, path) -> None:
    """One panel per PA-grism 2D spectrum, expected lines marked.

    Shown is the signal-to-noise of the spectrum after subtracting the contamination and
    continuum models, so that lines stand out equally across the sensitivity curve.
    """
    n = len(spectra)
    fig, axes = plt.subplots(n, 1, figsize=(10, 1.6 * n + 0.6), squeeze=False)
    for ax, spec in zip(axes[:, 0], spectra):
        clean = spec.science - spec.contamination - spec.continuum
        snr = np.where(spec.valid, clean / spec.error, np.nan)
        extent = (spec.wavelength[0] / 1e4, spec.wavelength[-1] / 1e4, 0, spec.shape[0])
        ax.imshow(
            snr,
            origin="lower",
            aspect="auto",
            cmap="gray_r",
            vmin=-2,
            vmax=6,
            extent=extent,
            interpolation="nearest",
        )
        for line in ALL_LINES:
            lam = line.wavelength * (1 + redshift) / 1e4
            if extent[0] < lam < extent[1]:
                ax.axvline(lam, color="tab:red", lw=0.6, alpha=0.6)
                ax.text(
                    lam,
                    spec.shape[0] * 0.92,
                    line.label,
                    color="tab:red",
                    fontsize=6,
                    rotation=90,
                    ha="right",
                    va="top",
                )
        ax.set_ylabel(f"PA {spec.pa}\n{spec.grism}", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("observed wavelength [micron]")
    fig.suptitle(
        f"{spectra[0].galaxy}  z = {redshift:.3f}: signal-to-noise after subtracting the "
        "contamination and continuum models (grey scale -2 to 6)",
        fontsize=9,
    )
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)
