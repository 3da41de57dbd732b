"""Sample-level figures (Wang et al. 2017, Figures 6-9 and 11-13). Every function writes the
figure as PNG and as PDF (``<stem>.png``, ``<stem>.pdf``) and closes it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np

from ohmap.io.atomic import save_figure
from ohmap.sample.agn import mex_lower, mex_upper
from ohmap.sample.bpt import kewley_sii_line
from ohmap.sample.main_sequence import speagle_ms
from ohmap.sample.mzr import MAIOLINO2008_MZR, ma2016_mzr, maiolino2008_mzr

matplotlib.use("Agg")


def _save(fig, stem) -> list[Path]:
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    paths = [stem.with_suffix(".png"), stem.with_suffix(".pdf")]
    fig.tight_layout()
    for path in paths:
        save_figure(fig, path, dpi=120)
    plt.close(fig)
    return paths


def _errorbar(ax, x, y, xerr=None, yerr=None, **kwargs):
    ax.errorbar(
        x,
        y,
        xerr=xerr,
        yerr=yerr,
        fmt=kwargs.pop("fmt", "o"),
        ms=kwargs.pop("ms", 5),
        elinewidth=0.8,
        capsize=0,
        **kwargs,
    )


def plot_mex(table, stem, mass_shift: float = 0.0) -> list[Path]:
    """Mass-excitation diagram (Figure 6): log([OIII]/Hbeta) against log M*, the Juneau et al.
    (2014) curves, AGN candidates marked. ``table`` has ``galaxy_id``, ``log_mstar``,
    ``log_o3hb``, ``log_o3hb_err`` and ``mex_class``."""
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    m = np.linspace(8.0, 11.5, 400)
    ax.plot(m, mex_upper(m - mass_shift), color="tab:red", label="Juneau+14 upper (AGN above)")
    ax.plot(m, mex_lower(m - mass_shift), color="tab:green", label="Juneau+14 lower (SF below)")
    for row in table:
        agn = bool(row["agn_candidate"])
        _errorbar(
            ax,
            row["log_mstar"],
            row["log_o3hb"],
            yerr=row["log_o3hb_err"],
            fmt="s" if agn else "o",
            color="tab:red" if agn else "tab:blue",
            mfc="none" if agn else None,
        )
        ax.annotate(
            row["galaxy_id"],
            (row["log_mstar"], row["log_o3hb"]),
            fontsize=6,
            xytext=(3, 3),
            textcoords="offset points",
        )
    ax.set_xlim(8.0, 11.5)
    ax.set_ylim(-1.0, 1.5)
    ax.set_xlabel("log M* [Msun]")
    ax.set_ylabel("log([OIII]5008/Hβ)")
    title = "mass-excitation diagram" + (
        f" (masses shifted by {mass_shift:+.2f} dex)" if mass_shift else ""
    )
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    return _save(fig, stem)


def plot_sfr_mass(table, stem) -> list[Path]:
    """SFR against M* (Figure 7) with the Speagle et al. (2014) main sequence at the sample's
    redshifts (and Whitaker et al. 2014 where implemented); limits drawn as arrows."""
    if hasattr(table["sfr_limit"], "filled"):
        table = table.copy()
        table["sfr_limit"] = table["sfr_limit"].filled("")
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    m = np.linspace(7.5, 11.0, 100)
    for z, style in (
        (float(np.min(table["redshift"])), ":"),
        (float(np.median(table["redshift"])), "-"),
        (float(np.max(table["redshift"])), "--"),
    ):
        ax.plot(m, speagle_ms(m, z), color="0.4", ls=style, label=f"Speagle+14, z = {z:.2f}")
    for row in table:
        sfr = row["sfr_value"]
        if not np.isfinite(sfr) or sfr <= 0:
            continue
        y = np.log10(sfr)
        if row["sfr_limit"] == "<":
            ax.annotate(
                "",
                (row["log_mstar"], y - 0.3),
                (row["log_mstar"], y),
                arrowprops=dict(arrowstyle="->", color="tab:blue"),
            )
            ax.plot(row["log_mstar"], y, "_", color="tab:blue", ms=10)
        elif row["sfr_limit"] == ">":
            ax.annotate(
                "",
                (row["log_mstar"], y + 0.3),
                (row["log_mstar"], y),
                arrowprops=dict(arrowstyle="->", color="tab:blue"),
            )
            ax.plot(row["log_mstar"], y, "_", color="tab:blue", ms=10)
        else:
            lo, hi = np.log10(row["sfr_p16"]), np.log10(row["sfr_p84"])
            _errorbar(ax, row["log_mstar"], y, yerr=[[y - lo], [hi - y]], color="tab:blue")
    ax.set_xlabel("log M* [Msun]")
    ax.set_ylabel("log SFR [Msun/yr]")
    ax.legend(fontsize=7)
    ax.set_title("star formation against stellar mass", fontsize=9)
    return _save(fig, stem)


def plot_mzr(points: dict, fits: dict, stem, z_label: str | None = None) -> list[Path]:
    """Mass-metallicity relation (Figure 8): each point set (name -> dict of ``log_mstar``,
    ``log_mstar_err``, ``oh12``, ``oh12_err``), each linmix fit (name -> LinmixResult-like with
    ``alpha``/``beta`` draws), the Ma et al. (2016) FIRE relation and the Maiolino et al. (2008)
    curves."""
    fig, ax = plt.subplots(figsize=(5.8, 4.6))
    m = np.linspace(7.5, 11.0, 100)
    colours = iter(("tab:blue", "tab:orange", "tab:green", "tab:purple"))
    for name, pts in points.items():
        _errorbar(
            ax,
            pts["log_mstar"],
            pts["oh12"],
            xerr=pts["log_mstar_err"],
            yerr=pts["oh12_err"],
            color=next(colours),
            label=name,
            alpha=0.8,
        )
    colours = iter(("tab:blue", "tab:orange", "tab:green", "tab:purple"))
    for name, fit in fits.items():
        c = next(colours)
        lines = np.asarray(fit.alpha)[:, None] + np.asarray(fit.beta)[:, None] * m[None, :]
        lo, mid, hi = np.percentile(lines, [16, 50, 84], axis=0)
        ax.fill_between(m, lo, hi, color=c, alpha=0.2)
        ax.plot(m, mid, color=c, label=f"{name}: β = {np.median(fit.beta):.2f}")
    ax.plot(m, ma2016_mzr(m), color="k", ls="--", label="Ma+16 FIRE")
    for label in MAIOLINO2008_MZR:
        ax.plot(m, maiolino2008_mzr(m, label), color="0.6", lw=0.8, ls=":")
        ax.annotate(
            f"M08 z={label}", (m[-1], maiolino2008_mzr(m[-1], label)), fontsize=6, color="0.4"
        )
    ax.set_xlabel("log M* [Msun]")
    ax.set_ylabel("12+log(O/H)")
    ax.set_ylim(7.0, 9.4)
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("mass-metallicity relation (linmix fits, 68% bands)", fontsize=9)
    return _save(fig, stem)


def plot_fmr(table, stem) -> list[Path]:
    """Offsets from the Mannucci et al. (2011) fundamental metallicity relation against
    mu_0.32 (Figure 9), with the median offset and median uncertainty per subsample."""
    fig, ax = plt.subplots(figsize=(5.8, 4.2))
    for name in sorted(set(table["subsample"])):
        sub = table[table["subsample"] == name]
        _errorbar(
            ax,
            sub["mu032"],
            sub["fmr_offset"],
            yerr=[
                sub["fmr_offset"] - sub["fmr_offset_p16"],
                sub["fmr_offset_p84"] - sub["fmr_offset"],
            ],
            label=name,
        )
    ax.axhline(0, color="k", lw=0.8)
    ax.axvline(9.5, color="0.6", lw=0.6, ls=":")
    ax.set_xlabel("μ0.32 = log M* − 0.32 log SFR")
    ax.set_ylabel("Δ 12+log(O/H) (observed − FMR)")
    ax.legend(fontsize=7)
    ax.set_title("offsets from the fundamental metallicity relation", fontsize=9)
    return _save(fig, stem)


def plot_bpt(
    spaxels: dict, integrated: dict | None, stem, title: str, nii_ha: float = 0.05
) -> list[Path]:
    """Spatially resolved [SII] BPT diagram (Figure 11): log([OIII]/Hbeta) against
    log([SII]/(Halpha+[NII])) per spaxel coloured by deprojected radius, the integrated point and
    the Kewley et al. (2001, 2006) extreme-starburst line, moved onto this x axis with
    ``nii_ha`` (the grism blends H-alpha with [NII]). With no spaxels (lines not covered), a panel
    says so."""
    fig, ax = plt.subplots(figsize=(5.2, 4.4))
    x = np.linspace(-2.0, 0.25, 200)
    ax.plot(
        x,
        kewley_sii_line(x, nii_ha=nii_ha),
        color="k",
        label=f"Kewley+01/06 ([NII]/Hα = {nii_ha:g})",
    )
    if spaxels is None or len(spaxels["x"]) == 0:
        ax.text(
            0.5,
            0.5,
            "Hα and [SII] not both mapped\n(or no spaxel with both)",
            ha="center",
            transform=ax.transAxes,
            fontsize=9,
        )
    else:
        sc = ax.scatter(spaxels["x"], spaxels["y"], c=spaxels["radius"], cmap="viridis", s=14)
        fig.colorbar(sc, ax=ax, label="deprojected radius [kpc]")
    if integrated is not None:
        _errorbar(
            ax,
            integrated["x"],
            integrated["y"],
            xerr=integrated.get("xerr"),
            yerr=integrated.get("yerr"),
            fmt="*",
            ms=12,
            color="tab:red",
            label="integrated",
        )
    ax.set_xlim(-2.0, 0.5)
    ax.set_ylim(-1.0, 1.5)
    ax.set_xlabel("log([SII]/(Hα+[NII]))")
    ax.set_ylabel("log([OIII]5008/Hβ)")
    ax.legend(fontsize=7, loc="lower left")
    ax.set_title(title, fontsize=9)
    return _save(fig, stem)


def plot_gradient_trends(this_work, literature, stem_redshift, stem_mass) -> list[Path]:
    """Metallicity gradients against redshift (Figure 12) and against stellar mass (Figure 13):
    this work's individual-spaxel gradients (kept, star-forming galaxies) and the literature
    table's values."""
    paths = []
    for key, stem, label in (
        ("redshift", stem_redshift, "redshift"),
        ("log_mstar", stem_mass, "log M* [Msun]"),
    ):
        fig, ax = plt.subplots(figsize=(5.6, 4.2))
        if literature is not None and len(literature):
            lit = literature[
                np.isfinite(np.asarray(literature[key if key != "redshift" else "z"], dtype=float))
            ]
            for ref in sorted(set(lit["reference"])):
                sub = lit[lit["reference"] == ref]
                _errorbar(
                    ax,
                    sub[key if key != "redshift" else "z"],
                    sub["gradient"],
                    yerr=sub["gradient_err"],
                    fmt="^",
                    ms=4,
                    alpha=0.7,
                    label=ref,
                )
        _errorbar(
            ax,
            this_work[key],
            this_work["gradient"],
            yerr=this_work["gradient_err"],
            fmt="o",
            color="k",
            label="this work",
        )
        ax.axhline(0, color="0.5", lw=0.6)
        ax.set_xlabel(label)
        ax.set_ylabel("d(12+log(O/H))/dr [dex/kpc]")
        ax.legend(fontsize=6)
        paths += _save(fig, stem)
    return paths
