"""The mock's files beside the spectra: stamps, truth rows and maps, and the sample sheet."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.table import vstack
from astropy.wcs import WCS

from ohmap.io.atomic import write_fits_atomic
from ohmap.io.sample_sheet import SHEET_COLUMNS
from ohmap.streams import object_stream

from .imaging import INTERLACED_PIXEL, render_direct_image, segmentation_map
from .source import EMITTED_LINES


def sample_sheet_text(galaxies, field: str, outdir: str = "results/mock") -> str:
    """The sample sheet (TSV text) that points the workflow at the mock's files."""
    lines = [
        "# Sample sheet of the embedded mock MACS1149.6+2223 field (written by ohmap.mock).",
        "# Columns are described in workflow/schemas/galaxies.schema.yaml and docs/inputs.md.",
        "\t".join(SHEET_COLUMNS),
    ]
    for g in galaxies:
        values = [
            g.galaxy_id,
            f"{g.ra:.6f}",
            f"{g.dec:.6f}",
            f"{g.redshift:g}",
            g.lens_model,
            f"{g.log_mstar:.2f}",
            f"{g.log_mstar_err_lo:.2f}",
            f"{g.log_mstar_err_hi:.2f}",
            "" if g.nii_ha is None else f"{g.nii_ha:g}",
            "glass",
            f"{outdir}/spectra/{field}-{{pa}}-{{grism}}_{g.galaxy_id}.2D.fits",
            "",
            f"{outdir}/images/{g.galaxy_id}_f160w.fits",
            f"{outdir}/images/{g.galaxy_id}_seg.fits",
            f"{outdir}/images/{g.galaxy_id}_mstar.fits",
        ]
        lines.append("\t".join(values))
    return "\n".join(lines) + "\n"


def north_up_wcs(ra: float, dec: float, size: int, pixel: float = INTERLACED_PIXEL) -> WCS:
    """TAN WCS of a north-up, east-left stamp centred on (ra, dec)."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(size + 1) / 2.0, (size + 1) / 2.0]
    wcs.wcs.cdelt = [-pixel / 3600.0, pixel / 3600.0]
    wcs.wcs.cunit = ["deg", "deg"]
    return wcs


def write_stamps(renderer, gal, settings, outdir: Path) -> dict:
    """North-up F160W stamp, its segmentation map and the stellar-mass surface-density map."""
    # +x towards west (PA 270) gives north up, east left.
    rng = object_stream(settings["seed"], gal.galaxy_id, "stamps")
    direct = render_direct_image(renderer, 270.0, gal, rng, settings)
    seg = segmentation_map(direct, settings["direct_noise_counts"], int(gal.galaxy_id))
    scene = renderer.render(270.0, convolve=False)
    scale = renderer.source.scale
    # Msun per image-plane pixel -> Msun per source-plane kpc^2: surface density is conserved.
    area_kpc2 = (renderer.geo.pixel * scale) ** 2
    mass_map = scene["mstar"] / area_kpc2
    header = north_up_wcs(gal.ra, gal.dec, renderer.geo.size).to_header()
    paths = {}
    images = outdir / "images"
    images.mkdir(parents=True, exist_ok=True)
    for kind, data, unit, what in (
        ("f160w", direct, "electron/s", "F160W direct image stamp (PSF-convolved, with noise)"),
        ("seg", seg, "", "segmentation map (object id, 0 = sky)"),
        (
            "mstar",
            mass_map,
            "Msun/kpc2",
            "stellar-mass surface density, intrinsic (source-plane kpc^2), PSF-free",
        ),
    ):
        hdu = fits.PrimaryHDU(data, header=header)
        hdu.header["BUNIT"] = unit
        hdu.header["CONTENT"] = what
        hdu.header["OBJECT"] = gal.galaxy_id
        hdu.header["REDSHIFT"] = gal.redshift
        path = images / f"{gal.galaxy_id}_{kind}.fits"
        write_fits_atomic(fits.HDUList([hdu]), path)
        paths[kind] = path
    return paths


def truth_row(gal, renderer, truth_unconvolved, intrinsic_total) -> dict:
    center_mu = float(renderer.cluster.magnification(renderer.x_img, renderer.y_img, gal.redshift))
    row = dict(
        galaxy_id=gal.galaxy_id,
        ra_deg=gal.ra,
        dec_deg=gal.dec,
        redshift=gal.redshift,
        lens_model=gal.lens_model,
        log_mstar=gal.log_mstar,
        oh12_global=gal.oh12_global,
        oh12_center=gal.oh12_center,
        oh12_gradient_dex_per_kpc=gal.gradient,
        av_neb=gal.av,
        sfr_msun_yr=gal.sfr,
        nii_ha=gal.nii_ha_used,
        sf_scale_kpc=gal.sf_scale_kpc,
        axis_ratio=gal.axis_ratio,
        inclination_deg=gal.inclination_deg,
        major_axis_pa_deg=gal.pa_deg,
        n_clumps=len(gal.clumps),
        magnification_center=center_mu,
        magnification_effective=float(truth_unconvolved["hb_intrinsic"].sum() / intrinsic_total),
        hbeta_intrinsic_flux=intrinsic_total,
    )
    for name in EMITTED_LINES:
        row[f"flux_{name}_lensed"] = float(truth_unconvolved[name].sum())
    return row


def write_truth_maps(path, gal, truth, truth_unconvolved, ref_frame_pa, row) -> None:
    hdus = [fits.PrimaryHDU()]
    hdr = hdus[0].header
    hdr["OBJECT"] = gal.galaxy_id
    hdr["REDSHIFT"] = gal.redshift
    hdr["FRAME"] = ("reference PA frame", "+x along dispersion of the reference PA")
    hdr["FRAMEPA"] = (ref_frame_pa, "[deg] E of N of +x; +y at FRAMEPA+90")
    hdr["PIXSCALE"] = (INTERLACED_PIXEL, "[arcsec/pixel]")
    for key in ("oh12_center", "oh12_gradient_dex_per_kpc", "av_neb", "magnification_effective"):
        hdr[key[:8].upper()] = (row[key], key)
    for name in EMITTED_LINES:
        h = fits.ImageHDU(truth[name].astype(np.float32), name=f"LINE_{name}")
        h.header["BUNIT"] = "1e-17 erg/s/cm2"
        h.header["CONTENT"] = f"{name} flux per pixel, lensed, reddened, PSF-convolved"
        hdus.append(h)
    for key, unit, what in (
        ("oh12", "dex", "12+log(O/H), Hbeta-weighted, PSF-free"),
        ("radius_kpc", "kpc", "deprojected galactocentric radius (source plane)"),
        ("magnification", "", "lensing magnification |mu|"),
        ("hb_intrinsic", "1e-17 erg/s/cm2", "dust-free Hbeta per pixel, lensed, PSF-free"),
    ):
        data = (
            truth_unconvolved[key] if key in ("oh12", "radius_kpc", "hb_intrinsic") else truth[key]
        )
        h = fits.ImageHDU(np.asarray(data, dtype=np.float32), name=key.upper())
        h.header["BUNIT"] = unit
        h.header["CONTENT"] = what
        hdus.append(h)
    av = fits.ImageHDU(np.full(truth["Hb"].shape, gal.av, dtype=np.float32), name="AV")
    av.header["BUNIT"] = "mag"
    av.header["CONTENT"] = "nebular A_V"
    hdus.append(av)
    write_fits_atomic(fits.HDUList(hdus), Path(path))


def truth_tables(rows, alignment_rows):
    """The mock's truth tables from the per-galaxy ones: galaxies (one row each) and the
    calibration errors injected per galaxy, PA and grism, each with a comment on its units."""
    truth = vstack(list(rows))
    truth.meta["comment"] = [
        "Truth of the ohmap mock MACS1149 field. Fluxes in 1e-17 erg/s/cm2 (lensed, reddened,",
        "summed over the image stamp); magnifications are |mu|; gradients in dex/kpc.",
    ]
    alignment = vstack(list(alignment_rows))
    alignment.meta["comment"] = [
        "Calibration errors injected per galaxy, PA and grism: trace offset and wavelength shift in",
        "pixels of the PA frame, rotation error and total rotation to the reference frame in degrees.",
    ]
    return truth, alignment
