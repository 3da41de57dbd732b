"""Figure of a galaxy's metallicity gradient (Fig. 10)."""

from __future__ import annotations

from types import SimpleNamespace

import matplotlib.pyplot as plt
import numpy as np

from ohmap.gradients.individual_spaxels import spaxel_points
from ohmap.io.atomic import save_figure

from .linemaps import radius_contours


def plot_gradient(
    maps: dict,
    radius_kpc,
    spaxels: dict,
    fits: dict,
    global_oh12,
    path,
    title=None,
    pixel_arcsec: float = 0.13,
    annuli=None,
    contour_step_kpc: float = 1.0,
) -> None:
    """A galaxy's metallicity gradient in the manner of Figure 10.

    Panels: the metallicity map and its conservative-error map with contours of deprojected
    radius every ``contour_step_kpc`` (from 1 kpc); 12+log(O/H) against radius for the fitted
    spaxels (with their asymmetric errors), the radial annuli (if any), each method's linear
    fit (the forward model's with its 1-sigma slope band, over the radii of the footprint it
    fitted) and the global value as a band.

    Parameters
    ----------
    maps : dict
        :func:`ohmap.inference.products.spaxel_maps.read_spaxel_maps` output.
    radius_kpc : ndarray
        Deprojected radius of every spaxel of ``maps`` (kpc).
    spaxels : dict
        ``radius``, ``p16``, ``p50``, ``p84`` of the spaxels used in the fit (1-D arrays).
    fits : dict
        Method name -> object with ``slope``, ``intercept`` (dex/kpc, dex) and ``slope_err``, or
        ``None`` when that method gave no gradient.
    global_oh12 : tuple
        (p16, p50, p84) of the global fit.
    annuli : dict, optional
        ``radius``, ``p16``, ``p50``, ``p84`` of the annuli.
    """
    fig, axes = plt.subplots(1, 3, figsize=(13.5, 4.0))
    fitted = np.asarray(maps["FITTED"], dtype=bool)
    ny, nx = fitted.shape
    extent = np.array([-nx / 2, nx / 2, -ny / 2, ny / 2]) * pixel_arcsec
    rows, cols = np.nonzero(fitted)
    for ax, key, label, cmap in (
        (axes[0], "OH12", "12+log(O/H) [dex]", "viridis"),
        (axes[1], "OH12_ERR", "conservative error [dex]", "magma"),
    ):
        data = np.where(fitted, maps[key], np.nan)
        image = ax.imshow(data, origin="lower", cmap=cmap, extent=extent, interpolation="nearest")
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.02, label=label)
        radius_contours(ax, radius_kpc, extent, contour_step_kpc)
        if rows.size:
            pad = 4
            x0, x1 = (
                (max(cols.min() - pad, 0) - nx / 2) * pixel_arcsec,
                (min(cols.max() + pad + 1, nx) - nx / 2) * pixel_arcsec,
            )
            y0, y1 = (
                (max(rows.min() - pad, 0) - ny / 2) * pixel_arcsec,
                (min(rows.max() + pad + 1, ny) - ny / 2) * pixel_arcsec,
            )
            ax.set_xlim(x0, x1)
            ax.set_ylim(y0, y1)
        ax.set_xlabel("x [arcsec]")
        ax.set_ylabel("y [arcsec]")
    ax = axes[2]
    lo, mid, hi = global_oh12
    ax.axhspan(lo, hi, color="0.85", label=f"global {mid:.2f}")
    r = np.asarray(spaxels["radius"])
    if r.size:
        p16, p50, p84 = (np.asarray(spaxels[k]) for k in ("p16", "p50", "p84"))
        ax.errorbar(
            r,
            p50,
            yerr=[p50 - p16, p84 - p50],
            fmt="o",
            ms=3,
            color="tab:blue",
            alpha=0.6,
            elinewidth=0.6,
            label="spaxels",
        )
    if annuli is not None and len(annuli["radius"]):
        ra = np.asarray(annuli["radius"])
        p16, p50, p84 = (np.asarray(annuli[k]) for k in ("p16", "p50", "p84"))
        ax.errorbar(
            ra, p50, yerr=[p50 - p16, p84 - p50], fmt="s", ms=6, color="tab:red", label="annuli"
        )
    # Each line is drawn over the radii that were fitted only: a gradient from a few spaxels at
    # similar radii, extrapolated to the centre, would set the axis range and mean nothing there.
    covered = np.concatenate([r, np.asarray(annuli["radius"]) if annuli is not None else []])
    covered = covered[np.isfinite(covered)]
    grid = (
        np.linspace(covered.min(), covered.max(), 50) if covered.size else np.linspace(0.0, 5.0, 50)
    )
    colours = {"spaxels": "tab:blue", "annuli": "tab:red", "forward model": "tab:green"}
    for name, fit in fits.items():
        if fit is None:
            continue
        # The forward model uses every footprint spaxel: drawn over the radii it fitted.
        r_range = getattr(fit, "r_range", None)
        line_grid = np.linspace(*r_range, 50) if r_range is not None else grid
        colour = colours.get(name, "k")
        if r_range is not None:
            ax.fill_between(
                line_grid,
                fit.intercept + (fit.slope - fit.slope_err) * line_grid,
                fit.intercept + (fit.slope + fit.slope_err) * line_grid,
                color=colour,
                alpha=0.15,
                lw=0,
            )
        ax.plot(
            line_grid,
            fit.intercept + fit.slope * line_grid,
            color=colour,
            label=f"{name}: {fit.slope:+.3f} ± {fit.slope_err:.3f} dex/kpc",
        )
    ax.set_xlabel("deprojected radius [kpc]")
    ax.set_ylabel("12+log(O/H)")
    ax.legend(fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_galaxy_gradient(
    maps: dict, radius_kpc, gradients, annuli, global_fit, path, galaxy: str
) -> None:
    """Figure 10-like panel of one galaxy from its products: the spaxel maps, the radius map,
    the gradient and annulus tables (``<galaxy>_gradient.ecsv``, ``<galaxy>_annuli.ecsv``) and
    the global fit's row (its 12+log(O/H) percentiles)."""
    fitted = np.asarray(maps["FITTED"], dtype=bool)
    # One point per bin (each fitted spaxel its own bin with binning: paper).
    spaxels = spaxel_points(
        radius_kpc, maps["OH12_P16"], maps["OH12"], maps["OH12_P84"], fitted, maps.get("BINID")
    )
    names = {
        "individual_spaxel": "spaxels",
        "radial_annulus": "annuli",
        "forward_model": "forward model",
    }
    fits = {}
    for r in gradients:
        fit = None
        if np.isfinite(r["slope"]):
            fit = SimpleNamespace(
                slope=r["slope"], intercept=r["intercept"], slope_err=r["slope_err"]
            )
            if r["method"] == "forward_model":
                fit.r_range = (float(r["r_min_kpc"]), float(r["r_max_kpc"]))
        fits[names.get(r["method"], r["method"])] = fit
    kept = bool(gradients["kept"][0])
    plot_gradient(
        maps,
        radius_kpc,
        spaxels,
        fits,
        (global_fit["oh12_p16"], global_fit["oh12_p50"], global_fit["oh12_p84"]),
        path,
        pixel_arcsec=float(maps["header"]["PIXSCALE"]),
        annuli={
            "radius": annuli["r_mean"],
            "p16": annuli["oh12_p16"],
            "p50": annuli["oh12_p50"],
            "p84": annuli["oh12_p84"],
        },
        title=f"{galaxy}: metallicity gradient"
        + ("" if kept else " (too few spaxels: not in the sample)"),
    )
