"""A user's data folder as another simulator would write it, made from the mock's files.

The numbers are the mock's; the conventions are not ours. Every file is rewritten with astropy
directly, not with ohmap's writers:

* GLASS 2D spectra: WHT an inverse variance, saying so only in its ``BUNIT``
  (``(ELECTRONS/S)**-2``, the GLASS README's spelling of the count rate); SCI, MODEL, CONTAM in
  ``ELECTRONS/S``; SENS per erg/s/cm^2/Angstrom rather than per 1e-17; no ``PIXSCALE`` or
  ``WHTERROR`` keyword (the pixel scale is in the WCS of the extensions);
* one HFF lens model, cut out around the first galaxy only and smaller than its map frame,
  with its own name and ``Z_LENS`` in every header;
* stellar-mass maps in ``Msun/kpc^2``;
* a catalogue ``catalog.tsv`` (``id``, ``z``, ``ra``, ``dec``, ``lmass``; no mass errors).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS
from astropy.wcs.utils import proj_plane_pixel_scales

from ohmap.io.hff import HFF_SUFFIXES

LENS_NAME = "othersim_v1"


def foreign_glass(source: Path, destination: Path) -> None:
    """Rewrite one mock GLASS file with an inverse-variance WHT and per-erg SENS."""
    with fits.open(source) as hdul:
        hdus = [fits.PrimaryHDU(header=hdul[0].header.copy())]
        for hdu in hdul[1:]:
            data, header = np.array(hdu.data), hdu.header.copy()
            name = hdu.name
            if name in ("SCI", "MODEL", "CONTAM"):
                header["BUNIT"] = "ELECTRONS/S"
            elif name == "WHT":
                sigma = data.astype(np.float64)
                data = np.where(sigma > 0, 1.0 / np.where(sigma > 0, sigma, 1.0) ** 2, 0.0)
                data = data.astype(np.float32)
                header["BUNIT"] = "(ELECTRONS/S)**-2"
            elif name == "SENS":
                data = data * 1e17
                header["BUNIT"] = "(ELECTRONS/S)/(erg/s/cm2/Angstrom)"
            hdus.append(fits.ImageHDU(data, header=header, name=name))
    primary = hdus[0].header
    for key in ("PIXSCALE", "WHTERROR", "ORIGIN"):
        primary.remove(key, ignore_missing=True, remove_all=True)
    fits.HDUList(hdus).writeto(destination)


def lens_cut_out(prefix: str, destination_prefix: Path, ra: float, dec: float, half: float):
    """The four maps of a lens model cut to +-``half`` arcsec around (ra, dec)."""
    for suffix in HFF_SUFFIXES.values():
        with fits.open(f"{prefix}_{suffix}.fits") as hdul:
            data, header = hdul[0].data, hdul[0].header
            wcs = WCS(header)
            x, y = wcs.world_to_pixel_values(ra, dec)
            scale = float(proj_plane_pixel_scales(wcs.celestial)[1]) * 3600.0
            n = int(round(half / scale))
            x0, y0 = int(round(float(x))) - n, int(round(float(y))) - n
            cut = data[y0 : y0 + 2 * n + 1, x0 : x0 + 2 * n + 1]
            out = wcs[y0 : y0 + 2 * n + 1, x0 : x0 + 2 * n + 1].to_header()
            out["BUNIT"] = header.get("BUNIT", "")
            out["Z_LENS"] = header["Z_LENS"]
            out["MODEL"] = LENS_NAME
            fits.PrimaryHDU(cut, header=out).writeto(f"{destination_prefix}_{suffix}.fits")


def foreign_data_folder(mock_run: Path, destination: Path, galaxies, half_lens_arcsec: float):
    """A user's folder from the mock run in ``mock_run`` (its ``results/mock``), for
    ``galaxies``; the lens cut-out covers the first galaxy only."""
    mock = mock_run / "results" / "mock"
    sheet = Table.read(mock / "galaxies.tsv", format="ascii.tab", comment="#")
    sheet = sheet[[str(g).zfill(5) in galaxies for g in sheet["galaxy_id"]]]
    (destination / "spectra").mkdir(parents=True)
    (destination / "lens").mkdir()
    (destination / "mass").mkdir()
    for path in sorted((mock / "spectra").glob("*.2D.fits")):
        if any(path.name.endswith(f"_{g}.2D.fits") for g in galaxies):
            foreign_glass(path, destination / "spectra" / path.name)
    first = sheet[0]
    lens_cut_out(
        str(mock / "lens_models" / f"hlsp_frontier_model_macs1149_{first['lens_model']}"),
        destination / "lens" / f"hlsp_frontier_model_macs1149_{LENS_NAME}",
        float(first["ra_deg"]),
        float(first["dec_deg"]),
        half_lens_arcsec,
    )
    for gid in galaxies:
        with fits.open(mock / "images" / f"{gid}_mstar.fits") as hdul:
            header = hdul[0].header.copy()
            header["BUNIT"] = "Msun/kpc^2"
            fits.PrimaryHDU(hdul[0].data, header=header).writeto(
                destination / "mass" / f"{gid}_mstar.fits"
            )
    lines = ["id\tz\tra\tdec\tlmass"]
    for row in sheet:
        gid = str(row["galaxy_id"]).zfill(5)
        lines.append(
            f"{gid}\t{row['redshift']}\t{row['ra_deg']}\t{row['dec_deg']}\t{row['log_mstar']}"
        )
    (destination / "catalog.tsv").write_text("\n".join(lines) + "\n")
