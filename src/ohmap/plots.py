"""Figures. Every function writes one file and closes its figure."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .lines import ALL_LINES  # noqa: E402


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
        ax.imshow(snr, origin="lower", aspect="auto", cmap="gray_r", vmin=-2, vmax=6, extent=extent,
                  interpolation="nearest")
        for line in ALL_LINES:
            lam = line.wavelength * (1 + redshift) / 1e4
            if extent[0] < lam < extent[1]:
                ax.axvline(lam, color="tab:red", lw=0.6, alpha=0.6)
                ax.text(lam, spec.shape[0] * 0.92, line.label, color="tab:red", fontsize=6, rotation=90,
                        ha="right", va="top")
        ax.set_ylabel(f"PA {spec.pa}\n{spec.grism}", fontsize=8)
        ax.tick_params(labelsize=7)
    axes[-1, 0].set_xlabel("observed wavelength [micron]")
    fig.suptitle(f"{spectra[0].galaxy}  z = {redshift:.3f}: signal-to-noise after subtracting the "
                 "contamination and continuum models (grey scale -2 to 6)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_line_maps(stacked: dict, lines, path, notes: dict | None = None) -> None:
    """The direct image, then each stacked line map, on the reference grid (cf. Figs. 3-4).

    ``stacked`` is what :func:`ohmap.io.linemaps.read_stacked_maps` returns. Each map is shown
    with a linear scale from -2 sigma (typical error within the footprint) to its 99.5th
    percentile inside the footprint, the footprint outlined; pixels whose error exceeds four
    times that typical error are left blank. A line without a map gets a panel saying why.
    """
    header = stacked["header"]
    footprint = stacked["footprint"]
    notes = notes or {}
    panels = ["direct"] + list(lines)
    ncol = min(len(panels), 4)
    nrow = int(np.ceil(len(panels) / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.0 * ncol, 3.1 * nrow), squeeze=False)
    n = footprint.shape[0]
    extent = np.array([-n / 2, n / 2, -n / 2, n / 2]) * float(header["PIXSCALE"])
    for ax in axes.ravel():
        ax.set_axis_off()
    for ax, name in zip(axes.ravel(), panels):
        ax.set_axis_on()
        ax.tick_params(labelsize=6)
        if name == "direct":
            image = stacked["direct"]
            if image is None:
                ax.text(0.5, 0.5, "no direct image", ha="center", transform=ax.transAxes, fontsize=8)
                continue
            top = np.percentile(image[footprint], 99.5) if footprint.any() else np.nanmax(image)
            ax.imshow(image, origin="lower", cmap="gray_r", vmin=0, vmax=top, extent=extent)
            ax.set_title("direct image", fontsize=8)
        elif name in stacked:
            s = stacked[name]
            has = np.isfinite(s.error)
            inside = footprint & has
            sigma = float(np.median(s.error[inside])) if inside.any() else 1.0
            # Pixels the data barely constrain (a jointly de-blended map's degenerate edges) would
            # set the colour scale; they are left blank here, not in the product.
            shown = np.where(has & (s.error < 4 * sigma), s.flux, np.nan)
            top = float(np.percentile(s.flux[inside], 99.5)) if inside.any() else 1.0
            image = ax.imshow(shown, origin="lower", cmap="viridis", vmin=-2 * sigma,
                              vmax=max(top, 3 * sigma), extent=extent)
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)
            ax.set_title(f"{name}: {s.aperture_flux:.1f} ± {s.aperture_error:.1f}  "
                         f"({len(s.contributors)} maps)", fontsize=8)
        else:
            ax.text(0.5, 0.5, f"{name}: no map\n{notes.get(name, '')[:80]}", ha="center", va="center",
                    wrap=True, transform=ax.transAxes, fontsize=7)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        ax.contour(footprint.astype(float), levels=[0.5], colors="tab:red", linewidths=0.6,
                   extent=extent, origin="lower")
    fig.suptitle(f"{header['OBJECT']}  z = {header['REDSHIFT']:.3f}: stacked line maps, PA {header['REF_PA']} "
                 f"frame (+x at {header['PA_X']:.1f} deg E of N), arcsec; line flux per pixel in "
                 "1e-17 erg/s/cm2", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
