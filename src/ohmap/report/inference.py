"""Figures of the inference: the corner plot of a global fit (Fig. 5) and the per-spaxel maps."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection
from scipy.ndimage import gaussian_filter

from ohmap.io.atomic import save_figure


def _as_ordered(values, names):
    """A dict name -> value from a dict or a sequence in the order of ``names`` (or None)."""
    if values is None:
        return {}
    if isinstance(values, dict):
        return dict(values)
    return dict(zip(names, values))


def _sigma_levels(hist2d, fractions):
    """Density thresholds enclosing ``fractions`` of the mass of a 2-D histogram (descending)."""
    flat = np.sort(hist2d.ravel())[::-1]
    cum = np.cumsum(flat)
    if cum[-1] <= 0:
        return None
    cum = cum / cum[-1]
    levels = [flat[min(np.searchsorted(cum, f), flat.size - 1)] for f in fractions]
    levels = np.unique(levels)
    return levels if levels.size == len(fractions) else None


def plot_corner(
    samples: dict,
    labels,
    path,
    truths=None,
    chain=None,
    title=None,
    chain_label=None,
    bins: int = 30,
) -> None:
    """Marginalised 1-D and 2-D posteriors of a few quantities, like Fig. 5 of Wang et al. (2017).

    Parameters
    ----------
    samples : dict
        Quantity name -> 1-D array of posterior samples (e.g. ``oh12``, ``av``, ``hbeta``), in
        the order of the panels; non-finite samples are dropped.
    labels : dict or sequence of str
        Axis label (with unit) per quantity, e.g. ``"12+log(O/H)"``, ``"A_V [mag]"``.
    path : str or Path
        Output file (PNG, PDF, ...).
    truths : dict or sequence of float, optional
        True values, drawn as lines (a missing or NaN entry draws none).
    chain : ndarray, optional
        ``(n_steps, n_walkers)`` positions of one parameter: shown as walker traces in an inset
        at the top right (the paper's panel illustrating convergence).
    title : str, optional
    chain_label : str, optional
        y label of the trace inset (default: the first label).
    bins : int
        Histogram bins per axis.

    Notes
    -----
    Diagonal: 1-D histograms with the median (solid) and 16th/84th percentiles (dashed), titled
    ``median +up/-down``. Below: 2-D histograms (grey) with the contours enclosing 39.3% and 86.5%
    of the samples (the 1 and 2 sigma levels of a 2-D Gaussian).
    """
    names = list(samples)
    labels = _as_ordered(labels, names)
    truths = _as_ordered(truths, names)
    n = len(names)
    data = {}
    for name in names:
        x = np.asarray(samples[name], dtype=float).ravel()
        data[name] = x[np.isfinite(x)]
    ranges = {name: _panel_range(data[name], truths.get(name)) for name in names}
    size = max(2.2 * n, 4.0)
    fig, axes = plt.subplots(n, n, figsize=(size, size), squeeze=False)
    levels_frac = [1 - np.exp(-0.5), 1 - np.exp(-2.0)]
    for i, yi in enumerate(names):
        for j, xj in enumerate(names):
            ax = axes[i, j]
            if j > i:
                ax.set_axis_off()
                continue
            ax.tick_params(labelsize=7)
            if i == j:
                _marginal_panel(ax, data[xj], bins, ranges[xj], labels.get(xj, xj), truths.get(xj))
            else:
                x = np.asarray(samples[xj], float).ravel()
                y = np.asarray(samples[yi], float).ravel()
                _joint_panel(
                    ax,
                    x,
                    y,
                    bins,
                    ranges[xj],
                    ranges[yi],
                    levels_frac,
                    truths.get(xj),
                    truths.get(yi),
                )
            if i == n - 1:
                ax.set_xlabel(labels.get(xj, xj), fontsize=8)
            else:
                ax.set_xticklabels([])
            if j == 0 and i > 0:
                ax.set_ylabel(labels.get(yi, yi), fontsize=8)
            elif j > 0 or i == 0:
                if i != j:
                    ax.set_yticklabels([])
    if chain is not None:
        label = chain_label or labels.get(names[0], names[0]) if names else ""
        _trace_inset(fig, chain, n, label)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(
        left=0.12, bottom=0.1, right=0.97, top=0.92 if title else 0.95, wspace=0.08, hspace=0.22
    )
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def _panel_range(x, truth) -> tuple[float, float]:
    """Axis range of one quantity: its 0.5-99.5th percentiles (and the truth), padded by 5%."""
    if x.size == 0:
        return (0.0, 1.0)
    lo, hi = np.percentile(x, [0.5, 99.5])
    if not hi > lo:
        pad = 0.5 * max(abs(lo), 1.0) * 1e-3 + 1e-12
        lo, hi = lo - pad, hi + pad
    if truth is not None and np.isfinite(truth):
        lo, hi = min(lo, truth), max(hi, truth)
    pad = 0.05 * (hi - lo)
    return (lo - pad, hi + pad)


def _marginal_panel(ax, x, bins, value_range, label, truth) -> None:
    """A diagonal panel: the histogram with its median and 16/84th percentiles in the title."""
    if x.size:
        ax.hist(x, bins=bins, range=value_range, histtype="step", color="k", lw=1)
        p16, p50, p84 = np.percentile(x, [16, 50, 84])
        for v, ls in ((p16, "--"), (p50, "-"), (p84, "--")):
            ax.axvline(v, color="tab:blue", ls=ls, lw=1)
        up, down = p84 - p50, p50 - p16
        scale = min(v for v in (up, down, abs(p50), 1.0) if v > 0) if max(up, down) > 0 else 1.0
        digits = int(np.clip(1 - np.floor(np.log10(scale)), 0, 6))
        ax.set_title(
            f"{label} = ${p50:.{digits}f}^{{+{up:.{digits}f}}}_{{-{down:.{digits}f}}}$",
            fontsize=8,
        )
    else:
        ax.text(0.5, 0.5, "no finite samples", ha="center", transform=ax.transAxes, fontsize=7)
    if truth is not None and np.isfinite(truth):
        ax.axvline(truth, color="tab:red", lw=1.2)
    ax.set_yticks([])
    ax.set_xlim(value_range)


def _joint_panel(ax, x, y, bins, x_range, y_range, levels_frac, tx, ty) -> None:
    """A panel below the diagonal: the 2-D histogram with its 1 and 2 sigma contours."""
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if x.size:
        h, xe, ye = np.histogram2d(x, y, bins=bins, range=[x_range, y_range])
        ax.imshow(
            h.T,
            origin="lower",
            aspect="auto",
            cmap="Greys",
            extent=(xe[0], xe[-1], ye[0], ye[-1]),
            interpolation="nearest",
        )
        hs = gaussian_filter(h, 1.0)
        levels = _sigma_levels(hs, levels_frac)
        if levels is not None:
            xc = 0.5 * (xe[1:] + xe[:-1])
            yc = 0.5 * (ye[1:] + ye[:-1])
            ax.contour(xc, yc, hs.T, levels=np.sort(levels), colors="tab:blue", linewidths=1)
    if tx is not None and np.isfinite(tx):
        ax.axvline(tx, color="tab:red", lw=1)
    if ty is not None and np.isfinite(ty):
        ax.axhline(ty, color="tab:red", lw=1)
        if tx is not None and np.isfinite(tx):
            ax.plot(tx, ty, "s", color="tab:red", ms=3)
    ax.set_xlim(x_range)
    ax.set_ylim(y_range)


def _trace_inset(fig, chain, n: int, label: str) -> None:
    """Walker traces of one parameter in an inset at the top right (the paper's panel
    illustrating convergence)."""
    c = np.asarray(chain, dtype=float)
    if c.ndim == 1:
        c = c[:, None]
    inset = fig.add_axes([0.66, 0.71, 0.3, 0.2] if n > 2 else [0.62, 0.62, 0.33, 0.25])
    alpha = max(0.05, min(0.5, 8.0 / max(c.shape[1], 1)))
    inset.plot(np.arange(c.shape[0]), c, color="k", alpha=alpha, lw=0.6)
    inset.set_xlabel("stored step", fontsize=7)
    inset.set_ylabel(label, fontsize=7)
    inset.set_title(f"walker traces ({c.shape[1]} walkers)", fontsize=7)
    inset.tick_params(labelsize=6)


def _has_multi_spaxel_bins(bin_id) -> bool:
    ids = np.asarray(bin_id)
    ids = ids[ids >= 0]
    return ids.size > 0 and np.unique(ids).size < ids.size


def _bin_outlines(bin_id) -> list:
    """Segments (pixel coordinates of ``imshow``) along the edges between spaxels of different
    bins, and between a bin and the outside."""
    ids = np.pad(np.asarray(bin_id), 1, constant_values=-1)
    segments = []
    # Vertical edges: between columns j - 1 and j of the unpadded map, at x = j - 0.5.
    vy, vx = np.nonzero((ids[:, 1:] != ids[:, :-1]) & ((ids[:, 1:] >= 0) | (ids[:, :-1] >= 0)))
    segments += [[(x - 0.5, y - 1.5), (x - 0.5, y - 0.5)] for y, x in zip(vy, vx)]
    hy, hx = np.nonzero((ids[1:, :] != ids[:-1, :]) & ((ids[1:, :] >= 0) | (ids[:-1, :] >= 0)))
    segments += [[(x - 1.5, y - 0.5), (x - 0.5, y - 0.5)] for y, x in zip(hy, hx)]
    return segments


def plot_spaxel_maps(maps: dict, path, title=None, truth_oh12=None) -> None:
    """Metallicity, its error, A_V and SFR surface density per spaxel (cf. Sect. 6.1).

    Parameters
    ----------
    maps : dict
        What :func:`ohmap.inference.products.spaxel_maps.read_spaxel_maps` returns.
    path : str or Path
        Output file.
    title : str, optional
    truth_oh12 : ndarray, optional
        True 12+log(O/H) on the same grid (simulations): adds its map, on the colour scale of the
        measured one, and a histogram of the pulls ``(median - truth) / error`` of the fitted
        spaxels with a unit Gaussian for comparison.

    Notes
    -----
    Spaxels that were not fitted (``FITTED`` = 0) are blank; the colour bars carry the units.
    Voronoi bins (``BINID``, bins of several spaxels) are outlined.
    """
    fitted = np.asarray(maps["FITTED"], dtype=bool)
    units = maps.get("units", {})
    bins = maps.get("BINID")
    binned = bins is not None and _has_multi_spaxel_bins(bins)
    outlines = _bin_outlines(bins) if binned else None
    panels = [
        ("OH12", "12+log(O/H), median", "viridis"),
        ("OH12_ERR", "12+log(O/H), error", "magma"),
        ("AV", "A_V, median", "inferno"),
        ("SFRD", "SFR surface density, median", "cividis"),
    ]
    unit_names = {"dex": "dex", "mag": "mag", "solMass / (yr kpc2)": "Msun/yr/kpc$^2$"}
    truth = None if truth_oh12 is None else np.asarray(truth_oh12, dtype=float)
    if truth is not None and truth.shape != fitted.shape:
        raise ValueError(f"truth map {truth.shape} is not on the {fitted.shape} spaxel grid")
    n_panels = len(panels) + (2 if truth is not None else 0)
    ncol = 3 if n_panels > 4 else 2
    nrow = int(np.ceil(n_panels / ncol))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 3.2 * nrow), squeeze=False)
    for ax in axes.ravel()[n_panels:]:
        ax.set_axis_off()
    oh_range = None
    if fitted.any() and np.isfinite(maps["OH12"][fitted]).any():
        v = maps["OH12"][fitted]
        oh_range = (np.nanmin(v), np.nanmax(v))
        if truth is not None and np.isfinite(truth[fitted]).any():
            oh_range = (
                min(oh_range[0], np.nanmin(truth[fitted])),
                max(oh_range[1], np.nanmax(truth[fitted])),
            )
        if not oh_range[1] > oh_range[0]:
            oh_range = (oh_range[0] - 0.05, oh_range[1] + 0.05)
    shown_panels = list(panels)
    if truth is not None:
        shown_panels.append(("TRUTH", "12+log(O/H), truth", "viridis"))
    for ax, (name, label, cmap) in zip(axes.ravel(), shown_panels):
        ax.tick_params(labelsize=6)
        if name == "TRUTH":
            image = np.where(fitted, truth, np.nan)
            unit = "dex"
        else:
            image = np.where(fitted, np.asarray(maps[name], dtype=float), np.nan)
            unit = units.get(name, "")
        ax.set_title(label, fontsize=8)
        if not np.isfinite(image).any():
            reason = "no spaxel fitted" if not fitted.any() else "no values"
            ax.text(0.5, 0.5, reason, ha="center", va="center", transform=ax.transAxes, fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
            continue
        cm = plt.get_cmap(cmap).with_extremes(bad="white")
        kw = {}
        if name in ("OH12", "TRUTH") and oh_range is not None:
            kw = dict(vmin=oh_range[0], vmax=oh_range[1])
        im = ax.imshow(
            np.ma.masked_invalid(image), origin="lower", cmap=cm, interpolation="nearest", **kw
        )
        if outlines is not None:
            ax.add_collection(LineCollection(outlines, colors="k", linewidths=0.4))
        bar = fig.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
        bar.set_label(unit_names.get(unit, unit), fontsize=7)
        bar.ax.tick_params(labelsize=6)
        ax.set_xlabel("ix [binned pixel]", fontsize=7)
        ax.set_ylabel("iy [binned pixel]", fontsize=7)
    if truth is not None:
        ax = axes.ravel()[len(shown_panels)]
        ok = fitted & np.isfinite(maps["OH12"]) & np.isfinite(truth) & (maps["OH12_ERR"] > 0)
        pulls = (maps["OH12"][ok] - truth[ok]) / maps["OH12_ERR"][ok]
        ax.tick_params(labelsize=6)
        ax.set_title("pull (median - truth) / error", fontsize=8)
        if pulls.size:
            lim = max(4.0, float(np.ceil(np.max(np.abs(pulls)))))
            ax.hist(
                pulls,
                bins=np.linspace(-lim, lim, 25),
                density=True,
                histtype="stepfilled",
                alpha=0.5,
                color="tab:blue",
            )
            g = np.linspace(-lim, lim, 200)
            ax.plot(
                g, np.exp(-0.5 * g**2) / np.sqrt(2 * np.pi), color="k", lw=1, label="unit Gaussian"
            )
            ax.text(
                0.03,
                0.95,
                f"N = {pulls.size}\nmean = {np.mean(pulls):.2f}\nstd = {np.std(pulls):.2f}",
                transform=ax.transAxes,
                va="top",
                fontsize=7,
            )
            ax.legend(fontsize=6, loc="upper right")
        else:
            ax.text(
                0.5,
                0.5,
                "no fitted spaxel with a truth",
                ha="center",
                transform=ax.transAxes,
                fontsize=8,
            )
        ax.set_xlabel("pull", fontsize=7)
    header = maps.get("header", {})
    nfit = (
        int(header.get("NFITTED", int(fitted.sum())))
        if hasattr(header, "get")
        else int(fitted.sum())
    )
    head = title or f"{maps.get('galaxy', '')}: per-spaxel posterior medians"
    in_bins = f" in {len(np.unique(bins[bins >= 0]))} Voronoi bins (outlined)" if binned else ""
    fig.suptitle(f"{head}  ({nfit} spaxels fitted{in_bins}; blank = not fitted)", fontsize=9)
    fig.tight_layout()
    save_figure(fig, path, dpi=110)
    plt.close(fig)


def plot_global_fit(shard, path) -> None:
    """Corner plot (Figure 5) of a galaxy's global fit from its posterior file
    (:func:`ohmap.inference.products.shards.read_shard`): 12+log(O/H), A_V and the intrinsic
    H-beta flux, with the 12+log(O/H) chain."""
    chain = np.asarray(shard.chain[0], dtype=float)  # (steps, walkers, ndim)
    flat = chain.reshape(-1, chain.shape[-1])
    names = list(shard.names)
    samples = {
        "oh12": flat[:, names.index("oh12")],
        "av": flat[:, names.index("av")],
        "hbeta": 10 ** flat[:, names.index("log_hbeta")],
    }
    labels = {
        "oh12": "12+log(O/H)",
        "av": "A_V [mag]",
        "hbeta": "f(Hβ) intrinsic [1e-17 erg/s/cm²]",
    }
    plot_corner(
        samples,
        labels,
        path,
        chain=chain[..., names.index("oh12")],
        title=f"{shard.galaxy}: global line fluxes",
    )
