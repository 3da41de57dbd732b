"""A damaged FITS file is refused naming it, by every reader: the grizli stack and beams
readers, the aXe sensitivity curves, the direct-image stamp and the stellar-mass map."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from astropy.wcs import WCS

from ohmap.errors import InputError
from ohmap.gradients.products import read_mass_map
from ohmap.io.sensitivity import read_axe_sensitivity
from ohmap.spectra.grizli_beams import read_grizli_beams
from ohmap.spectra.grizli_stack import read_grizli_stack


def _truncated_copy(source, destination, keep=0.6):
    data = source.read_bytes()
    destination.write_bytes(data[: int(len(data) * keep)])
    return destination


@pytest.mark.parametrize(
    "name, reader",
    [
        ("j033216m2743_00152.stack.fits", read_grizli_stack),
        ("j033216m2743_00152.model-trace.beams.fits", read_grizli_beams),
    ],
)
def test_truncated_grizli_products_are_refused(grizli_object_dir, tmp_path, name, reader):
    path = _truncated_copy(grizli_object_dir / name, tmp_path / name)
    with pytest.raises(InputError, match="truncated or corrupt") as error:
        reader(path)
    assert str(path) in str(error.value)


def _sky_image(path, data, bunit=None):
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [177.4, 22.39]
    wcs.wcs.crpix = [16.5, 16.5]
    wcs.wcs.cdelt = [-0.1 / 3600, 0.1 / 3600]
    header = wcs.to_header()
    if bunit is not None:
        header["BUNIT"] = bunit
    fits.PrimaryHDU(data, header=header).writeto(path)
    return path


def test_mass_map_reader_refuses_what_it_cannot_use(tmp_path):
    good = _sky_image(tmp_path / "good.fits", np.ones((32, 32)), "Msun/kpc^2")
    image, wcs = read_mass_map(good)
    assert image.shape == (32, 32) and wcs.has_celestial
    for name, data, bunit, expected in (
        ("log.fits", np.full((32, 32), 8.0), "dex(Msun/kpc2)", "BUNIT"),
        ("cube.fits", np.ones((2, 32, 32)), None, "2D image"),
    ):
        path = _sky_image(tmp_path / name, data, bunit)
        with pytest.raises(InputError, match=expected) as error:
            read_mass_map(path)
        assert str(path) in str(error.value)
    short = _truncated_copy(good, tmp_path / "short.fits")
    with pytest.raises(InputError, match="truncated or corrupt"):
        read_mass_map(short)
    with pytest.raises(InputError, match="not found"):
        read_mass_map(tmp_path / "absent.fits")


def test_truncated_sensitivity_curve_is_refused(tmp_path):
    from astropy.table import Table

    table = Table(
        {
            "WAVELENGTH": np.linspace(10000, 17000, 400),
            "SENSITIVITY": np.ones(400),
            "ERROR": np.full(400, 0.01),
        }
    )
    path = tmp_path / "curve.sens.fits"
    table.write(path, format="fits")
    short = _truncated_copy(path, tmp_path / "short.sens.fits")
    with pytest.raises(InputError, match="truncated or corrupt") as error:
        read_axe_sensitivity(short)
    assert str(short) in str(error.value)
