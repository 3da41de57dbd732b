"""Figure of a galaxy's direct image and stacked line maps (cf. Wang et al. 2017, Figs. 3-4)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from ohmap.io.atomic import save_figure


def plot_line_maps(
    stacked: dict,
    lines,
    path,
    notes: dict | None = None,
    radius_kpc=None,
    contour_step_kpc: float = 2.0,
) -> None:
    """The direct image, then each stacked line map, on the reference grid (cf. Figs. 3-4).

    ``stacked`` is what :func:`ohmap.linemaps.products.read_stacked_maps` returns. Each map is shown
    with a linear scale from -2 sigma (typical error within the footprint) to its 99.5th
    percentile inside the footprint, the footprint outlined; pixels whose error exceeds four
    times that typical error are left blank. The title gives the aperture flux (summed over the
    footprint pixels with data) and, below 100%, the fraction of the footprint those are. A
    line without a map gets a panel saying why.
    With ``radius_kpc`` (the deprojected source-plane radius on the same grid), contours of
    constant radius are drawn every ``contour_step_kpc`` from 1 kpc, as in Figure 4.
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
                ax.text(
                    0.5, 0.5, "no direct image", ha="center", transform=ax.transAxes, fontsize=8
                )
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
            image = ax.imshow(
                shown,
                origin="lower",
                cmap="viridis",
                vmin=-2 * sigma,
                vmax=max(top, 3 * sigma),
                extent=extent,
            )
            fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=6)
            # APFLUX is summed over the footprint pixels with data: say how much that is.
            covered = (
                f", {s.aperture_coverage:.0%} of footprint"
                if np.isfinite(s.aperture_coverage) and s.aperture_coverage < 1
                else ""
            )
            ax.set_title(
                f"{name}: {s.aperture_flux:.1f} ± {s.aperture_error:.1f}  "
                f"({len(s.contributors)} maps{covered})",
                fontsize=8,
            )
        else:
            ax.text(
                0.5,
                0.5,
                f"{name}: no map\n{notes.get(name, '')[:80]}",
                ha="center",
                va="center",
                wrap=True,
                transform=ax.transAxes,
                fontsize=7,
            )
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        ax.contour(
            footprint.astype(float),
            levels=[0.5],
            colors="tab:red",
            linewidths=0.6,
            extent=extent,
            origin="lower",
        )
        radius_contours(ax, radius_kpc, extent, contour_step_kpc)
    fig.suptitle(
        f"{header['OBJECT']}  z = {header['REDSHIFT']:.3f}: stacked line maps, PA {header['REF_PA']} "
        f"frame (+x at {header['PA_X']:.1f} deg E of N), arcsec; line flux per pixel in "
        "1e-17 erg/s/cm2",
        fontsize=8,
    )
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def radius_contours(ax, radius_kpc, extent, step_kpc: float, first_kpc: float = 1.0):
    """Contours of constant deprojected radius (kpc), every ``step_kpc`` from ``first_kpc``."""
    if radius_kpc is None or not np.isfinite(radius_kpc).any():
        return
    top = float(np.nanmax(radius_kpc))
    levels = np.arange(first_kpc, top, step_kpc)
    if levels.size:
        cs = ax.contour(
            radius_kpc, levels=levels, colors="k", linewidths=0.5, extent=extent, origin="lower"
        )
        ax.clabel(cs, fmt="%g", fontsize=5)


def missing_map_notes(header) -> dict:
    """Line -> why it has no stacked map, from the stacked maps' ``NOMAP`` header cards."""
    return {
        k.split(" ", 1)[1] if " " in k else k: v for k, v in header.items() if k.startswith("NOMAP")
    }
