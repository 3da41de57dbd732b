"""The sample's global properties (Wang et al. 2017, Table 2) as a table and as LaTeX."""

from __future__ import annotations

from astropy.table import Table, join

#: Columns of the global fits kept in the sample table.
GLOBAL_FIT_COLUMNS = ["galaxy_id", "magnification"] + [
    f"{q}_{s}" for q in ("oh12", "sfr", "av") for s in ("p16", "p50", "p84", "limit", "value")
]


def sample_table(global_fits, agn, galaxies: dict) -> Table:
    """Position, redshift, magnification, stellar mass, 12+log(O/H), SFR, A_V and MEx class of
    every galaxy.

    Parameters
    ----------
    global_fits : astropy.table.Table
        :func:`ohmap.inference.products.global_fits.read_global_fit` of the sample.
    agn : astropy.table.Table
        :func:`ohmap.sample.agn.screen_agn`'s table.
    galaxies : dict
        Galaxy id -> the sample sheet's ``ra_deg``, ``dec_deg``, ``redshift``, ``log_mstar``,
        ``log_mstar_err_lo``, ``log_mstar_err_hi``.
    """
    agn = agn["galaxy_id", "mex_class", "agn_candidate", "log_o3hb"]
    sheet = Table(rows=[dict(galaxy_id=g, **v) for g, v in galaxies.items()])
    table = join(
        join(sheet, global_fits[GLOBAL_FIT_COLUMNS], keys="galaxy_id"), agn, keys="galaxy_id"
    )
    table["log_mstar"].unit = "dex(solMass)"
    table.meta["description"] = (
        "Global properties (Table 2): position, redshift, magnification at the galaxy (lens "
        "model), stellar mass (sample sheet), and the global line-flux fit: 12+log(O/H), SFR "
        "(lensing-corrected) and A_V with 16/50/84th percentiles and limits; MEx class."
    )
    return table


def _value(row, q, fmt):
    if row[f"{q}_limit"]:
        return f"${row[f'{q}_limit']}{row[f'{q}_value']:{fmt}}$"
    v, lo, hi = row[f"{q}_p50"], row[f"{q}_p16"], row[f"{q}_p84"]
    return f"${v:{fmt}}^{{+{hi - v:{fmt}}}}_{{-{v - lo:{fmt}}}}$"


def sample_table_latex(table) -> str:
    """Table 2 as a LaTeX tabular: values with their 16/84th-percentile errors or limits, AGN
    candidates marked."""
    lines = [
        "\\begin{tabular}{lccccccc}",
        "\\hline",
        "ID & RA & Dec & $z$ & $\\mu$ & $\\log M_*$ & 12+log(O/H) & SFR & $A_V$ \\\\",
        " & (deg) & (deg) & & & ($M_\\odot$) & & ($M_\\odot$/yr) & (mag) \\\\",
        "\\hline",
    ]
    for r in table:
        mark = "$^a$" if r["agn_candidate"] else ""
        lines.append(
            f"{r['galaxy_id']}{mark} & {r['ra_deg']:.6f} & {r['dec_deg']:.6f} & {r['redshift']:.2f} & "
            f"{r['magnification']:.2f} & ${r['log_mstar']:.2f}^{{+{r['log_mstar_err_hi']:.2f}}}_{{-{r['log_mstar_err_lo']:.2f}}}$ & "
            f"{_value(r, 'oh12', '.2f')} & {_value(r, 'sfr', '.2f')} & {_value(r, 'av', '.2f')} \\\\"
        )
    lines += ["\\hline", "\\end{tabular}", "% a: AGN candidate on the mass-excitation diagram"]
    return "\n".join(lines) + "\n"
