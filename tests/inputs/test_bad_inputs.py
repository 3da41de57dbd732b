"""Bad inputs at the user's doors: ``ohmap validate``, ``ohmap fit-fluxes``, the workflow's start.

One valid small project is written once, outside the repository: one mock galaxy (02806, at
z = 1.5) with its GLASS spectra at three PA-grisms, each with lines in range, an HFF lens model
of an analytic lens covering its frame (with ``Z_LENS``), its stellar-mass map, direct image and
segmentation map, a sample sheet with absolute paths and a configuration laid over
``config/config.yaml``; ``ohmap validate`` must pass on it. Each case then copies the project,
breaks exactly one thing (a spectrum, a lens map, the mass map, the sample sheet or the
configuration) and checks that ``ohmap validate`` refuses it: exit status 2, an ``ohmap:
error:`` message naming the broken file and the field, keyword or column, no traceback, and
nothing written into the project. The same for the tables of ``ohmap fit-fluxes`` (the result is
not written), and for two cases through Snakemake itself, which must stop before any job with
the file named and no ``results/`` folder.
"""

from __future__ import annotations

import copy
import os
import shutil
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import yaml
from astropy import units as u
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS

from mock_helpers import REPO, simulate
from ohmap.cli import main
from ohmap.gradients.analytic_lenses import Component, cored_isothermal, maps_on_grid
from ohmap.gradients.sky import tangent_plane_to_sky
from ohmap.io.hff import hff_paths, write_hff_maps
from own_data_helpers import lens_cut_out
from workflow_helpers import copy_workflow, run_snakemake

BASE = REPO / "config" / "config.yaml"
SCHEMAS = REPO / "workflow" / "schemas"
GALAXY = "02806"
OBSERVATIONS = [
    {"pa": "032", "grism": "G102", "exposure_time": 8723},
    {"pa": "032", "grism": "G141", "exposure_time": 4412},
    {"pa": "119", "grism": "G141", "exposure_time": 36088},
]
REFERENCE = ("119", "G141")
LENS = "testlens_v1"
Z_LENS = 0.544
#: The sample sheet's columns, in the schema's order.
SHEET_COLUMNS = list(yaml.safe_load((SCHEMAS / "galaxies.schema.yaml").read_text())["properties"])


# --------------------------------------------------------------------------------------------
# The valid project
# --------------------------------------------------------------------------------------------


def north_up_wcs(ra, dec, n, scale):
    """North-up TAN WCS of an n x n grid of ``scale`` arcsec pixels centred on (ra, dec)."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(n + 1) / 2.0, (n + 1) / 2.0]
    wcs.wcs.cdelt = [-scale / 3600.0, scale / 3600.0]  # CDELT, as lens_cut_out reads it
    return wcs


def write_lens(prefix, ra, dec, n=41, scale=0.5):
    """HFF maps (+-10 arcsec) of a cored isothermal sphere 4" east, 3" south of (ra, dec)."""
    wcs = north_up_wcs(ra, dec, n, scale)
    profile = partial(cored_isothermal, theta_e=8.0, core=2.0)
    maps = maps_on_grid([Component(profile, 4.0, -3.0)], wcs, (n, n), ra, dec)
    write_hff_maps(prefix, *maps, wcs=wcs, z_lens=Z_LENS, model_name=LENS)


def lens_prefix(root: Path) -> Path:
    return root / "lens" / f"hlsp_frontier_model_macs1149_{LENS}"


@dataclass
class Project:
    """A project folder: its data files, its configuration and its sample sheet (one row)."""

    root: Path
    config: dict
    row: dict
    ra: float
    dec: float
    #: Options a case adds to the ``ohmap validate`` command line.
    options: tuple = ()

    @property
    def config_path(self) -> Path:
        return self.root / "config.yaml"

    @property
    def sheet_path(self) -> Path:
        return self.root / "galaxies.tsv"

    @property
    def lens_prefix(self) -> Path:
        return lens_prefix(self.root)

    @property
    def mass_map(self) -> Path:
        return self.root / "images" / f"{GALAXY}_mstar.fits"

    def spectrum(self, pa="119", grism="G141") -> Path:
        return self.root / "spectra" / f"MACS1149-{pa}-{grism}_{GALAXY}.2D.fits"

    def lens_map(self, key) -> Path:
        return hff_paths(self.lens_prefix)[key]

    def write(self) -> None:
        """Write the configuration and the sample sheet as they now are."""
        self.config_path.write_text(yaml.safe_dump(self.config, sort_keys=False))
        cells = ["" if self.row.get(c) is None else str(self.row[c]) for c in SHEET_COLUMNS]
        header = "\t".join(SHEET_COLUMNS)
        self.sheet_path.write_text(f"# one galaxy\n{header}\n" + "\t".join(cells) + "\n")

    def copy(self, root: Path) -> "Project":
        """The project copied to ``root`` (files copied, paths rewritten)."""
        shutil.copytree(self.root, root)
        old, new = os.fspath(self.root), os.fspath(root)

        def rebase(value):
            if isinstance(value, dict):
                return {k: rebase(v) for k, v in value.items()}
            if isinstance(value, list):
                return [rebase(v) for v in value]
            return value.replace(old, new) if isinstance(value, str) else value

        project = Project(root, rebase(self.config), rebase(self.row), self.ra, self.dec)
        project.write()
        return project


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Project:
    """One valid small project (module notes), written once."""
    scratch = tmp_path_factory.mktemp("simulated")
    written = simulate(
        GALAXY,
        scratch,
        stamp_pixels=48,
        supersample=1,
        observations=OBSERVATIONS,
        reference_pa=REFERENCE[0],
    )
    root = tmp_path_factory.mktemp("valid") / "project"
    for folder in ("spectra", "images", "lens"):
        (root / folder).mkdir(parents=True)
    for path in written["spectra"]:
        shutil.copy(path, root / "spectra" / path.name)
    for path in written["images"].values():
        shutil.copy(path, root / "images" / path.name)
    truth = written["galaxy_row"]
    ra, dec = float(truth["ra_deg"]), float(truth["dec_deg"])
    config = {
        "samples": os.fspath(root / "galaxies.tsv"),
        "observations": copy.deepcopy(OBSERVATIONS),
        "reference_pa": REFERENCE[0],
        "lens": {"z_lens": None, "models": {LENS: os.fspath(lens_prefix(root))}},
        "mock": {"enabled": False},
    }
    row = {
        "galaxy_id": GALAXY,
        "ra_deg": ra,
        "dec_deg": dec,
        "redshift": float(truth["redshift"]),
        "lens_model": LENS,
        "log_mstar": 9.2,
        "log_mstar_err_lo": 0.1,
        "log_mstar_err_hi": 0.1,
        "spectra_format": "glass",
        "spectra": os.fspath(root / "spectra" / f"MACS1149-{{pa}}-{{grism}}_{GALAXY}.2D.fits"),
        "direct_image": os.fspath(root / "images" / f"{GALAXY}_f160w.fits"),
        "segmentation": os.fspath(root / "images" / f"{GALAXY}_seg.fits"),
        "mass_map": os.fspath(root / "images" / f"{GALAXY}_mstar.fits"),
    }
    valid = Project(root, config, row, ra, dec)
    write_lens(valid.lens_prefix, ra, dec)
    valid.write()
    return valid


def listing(root: Path) -> dict:
    """Every file and folder below ``root`` with its size and modification time."""
    return {
        os.fspath(p.relative_to(root)): (p.is_dir(), p.stat().st_size, p.stat().st_mtime_ns)
        for p in sorted(root.rglob("*"))
    }


def validate(project: Project, capsys, *extra) -> tuple[int, str, str]:
    rc = main(
        [
            "validate",
            os.fspath(project.config_path),
            "--base",
            os.fspath(BASE),
            "--schemas",
            os.fspath(SCHEMAS),
            *extra,
        ]
    )
    captured = capsys.readouterr()
    return rc, captured.out, captured.err


def test_the_valid_project_passes(project, tmp_path, capsys):
    copied = project.copy(tmp_path / "project")
    before = listing(copied.root)
    rc, out, err = validate(copied, capsys)
    assert rc == 0, err
    assert f"{copied.config_path}: valid; 1 galaxies" in out
    assert "warning:" not in out
    for pa, grism in (("032", "G102"), ("032", "G141"), ("119", "G141")):
        assert f"{pa}-{grism} (" in out
    assert "no line" not in out
    assert listing(copied.root) == before


# --------------------------------------------------------------------------------------------
# Breaking one thing
# --------------------------------------------------------------------------------------------

CASES = []


def case(category: str):
    """Register a function that breaks one thing of a project copy and returns the file the
    message must name and the fragments (field, keyword, column) it must hold."""

    def register(func):
        CASES.append(pytest.param(func, id=f"{category}-{func.__name__}"))
        return func

    return register


def edit_fits(path: Path, func) -> None:
    """Rewrite a FITS file after ``func(hdul)`` changed a copy of its HDUs."""
    with fits.open(path) as hdul:
        hdul = fits.HDUList([hdu.copy() for hdu in hdul])
    func(hdul)
    hdul.writeto(path, overwrite=True)


def set_card(extension, key, value):
    def edit(hdul):
        hdul[extension].header[key] = value

    return edit


def lens_maps(project: Project, func, keys=("alpha_x", "alpha_y", "kappa", "gamma")) -> None:
    for key in keys:
        edit_fits(project.lens_map(key), func)


# ---- spectra ---------------------------------------------------------------------------------


@case("spectra")
def inverse_variance_labelled_as_an_error(p):
    def relabel(hdul):
        sigma = hdul["WHT"].data.astype(float)
        hdul["WHT"].data = np.where(sigma > 0, 1.0 / np.where(sigma > 0, sigma, 1.0) ** 2, 0.0)
        hdul["WHT"].header["BUNIT"] = "electron/s"
        hdul[0].header["WHTERROR"] = True

    edit_fits(p.spectrum(), relabel)
    return p.spectrum(), ["WHT", "robust scatter", "inverse variance", "'(electron/s)**-2'"]


@case("spectra")
def wht_bunit_nonsense(p):
    edit_fits(p.spectrum(), set_card("WHT", "BUNIT", "banana/s"))
    return p.spectrum(), ["extension WHT", "BUNIT = 'banana/s'", "not a unit"]


@case("spectra")
def whterror_conflicts_with_bunit(p):
    edit_fits(p.spectrum(), set_card(0, "WHTERROR", False))
    return p.spectrum(), ["WHT", "BUNIT = 'electron/s'", "WHTERROR = F"]


@case("spectra")
def whterror_not_a_boolean(p):
    edit_fits(p.spectrum("032", "G102"), set_card(0, "WHTERROR", "yes"))
    return p.spectrum("032", "G102"), ["WHTERROR = 'yes'", "boolean"]


@case("spectra")
def sci_bunit_not_a_count_rate(p):
    edit_fits(p.spectrum(), set_card("SCI", "BUNIT", "erg/s/cm2/Angstrom"))
    return p.spectrum(), ["extension SCI", "BUNIT", "count rate"]


@case("spectra")
def sens_bunit_nonsense(p):
    edit_fits(p.spectrum(), set_card("SENS", "BUNIT", "furlong/fortnight"))
    return p.spectrum(), ["extension SENS", "BUNIT = 'furlong/fortnight'", "not a unit"]


@case("spectra")
def wave_in_microns_labelled_angstrom(p):
    def microns(hdul):
        hdul["WAVE"].data = hdul["WAVE"].data * 1e-4
        hdul["WAVE"].header["BUNIT"] = "Angstrom"

    edit_fits(p.spectrum(), microns)
    return p.spectrum(), ["extension WAVE", "BUNIT", "G141"]


@case("spectra")
def pixscale_disagrees_with_the_dsci_wcs(p):
    edit_fits(p.spectrum(), set_card(0, "PIXSCALE", 0.13))
    return p.spectrum(), ["PIXSCALE", "DSCI", "0.13"]


@case("spectra")
def no_wcs_and_no_pixscale(p):
    def strip(hdul):
        for name in ("DSCI", "DSEG", "SCI", "WHT", "MODEL", "CONTAM"):
            header = hdul[name].header
            for key in list(header):
                if key[:5] in ("CTYPE", "CUNIT", "CRVAL", "CRPIX") or key.startswith("CD"):
                    del header[key]
        del hdul[0].header["PIXSCALE"]

    edit_fits(p.spectrum(), strip)
    return p.spectrum(), ["no spatial pixel scale", "DSCI", "CD2_2", "PIXSCALE"]


@case("spectra")
def missing_sci_extension(p):
    edit_fits(p.spectrum(), lambda hdul: hdul.pop(hdul.index_of("SCI")))
    return p.spectrum(), ["missing extension SCI"]


@case("spectra")
def wht_all_zero(p):
    edit_fits(p.spectrum(), lambda hdul: hdul["WHT"].data.__setitem__(Ellipsis, 0.0))
    return p.spectrum(), ["WHT", "no pixel with data"]


@case("spectra")
def nan_in_wht(p):
    edit_fits(p.spectrum("032", "G141"), lambda hdul: hdul["WHT"].data.__setitem__((5, 40), np.nan))
    return p.spectrum("032", "G141"), ["WHT", "1 NaN values"]


@case("spectra")
def sens_negative(p):
    edit_fits(p.spectrum(), lambda hdul: hdul["SENS"].data.__setitem__(50, -1.0))
    return p.spectrum(), ["SENS", "negative"]


@case("spectra")
def file_not_found_for_one_pa_grism(p):
    p.spectrum("032", "G141").unlink()
    return p.spectrum("032", "G141"), ["file not found", "'spectra'", "032-G141"]


@case("spectra")
def file_name_grism_disagrees_with_the_header(p):
    shutil.copy(p.spectrum("032", "G102"), p.spectrum("032", "G141"))
    return p.spectrum("032", "G141"), ["grism G141", "GRISM", "G102"]


@case("spectra")
def template_not_a_glass_file_name(p):
    for pa, grism in ((o["pa"], o["grism"]) for o in OBSERVATIONS):
        p.spectrum(pa, grism).rename(p.root / "spectra" / f"{pa}_{grism}.fits")
    _set_row(p, spectra=os.fspath(p.root / "spectra" / "{pa}_{grism}.fits"))
    return p.root / "spectra" / "119_G141.fits", ["'<field>-<PA_V3 as 3 digits>-<grism>_<id>"]


@case("spectra")
def truncated_not_fits(p):
    path = p.spectrum()
    path.write_bytes(path.read_bytes()[:100])
    return path, ["cannot be read as FITS"]


@case("spectra")
def truncated_in_the_data(p):
    path = p.spectrum()
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path, ["cannot be read as FITS", "truncated"]


@case("spectra")
def truncated_in_an_optional_extension(p):
    # The last HDU (YTRACE, optional) loses part of its header: read silently without it before.
    path = p.spectrum()
    path.write_bytes(path.read_bytes()[:-3000])
    return path, ["cannot be read as FITS"]


@case("spectra")
def wrong_number_of_wave_entries(p):
    def shorten(hdul):
        hdul["WAVE"].data = hdul["WAVE"].data[:-3]

    edit_fits(p.spectrum(), shorten)
    return p.spectrum(), ["extension WAVE", "entries", "columns"]


# ---- lens maps -------------------------------------------------------------------------------


@case("lens")
def one_map_missing(p):
    p.lens_map("kappa").unlink()
    return p.lens_map("kappa"), ["missing", f"lens.models.{LENS}"]


@case("lens")
def maps_of_different_shapes(p):
    def crop(hdul):
        hdul[0].data = hdul[0].data[:-2, :]

    edit_fits(p.lens_map("gamma"), crop)
    return p.lens_map("gamma"), ["gamma map has shape (39, 41)", "(41, 41)", f"lens.models.{LENS}"]


@case("lens")
def map_with_nan(p):
    edit_fits(p.lens_map("kappa"), lambda hdul: hdul[0].data.__setitem__((3, 4), np.nan))
    return p.lens_map("kappa"), ["kappa map", "non-finite", "x=4, y=3"]


@case("lens")
def z_lens_of_the_model_disagrees_with_the_maps(p):
    p.config["lens"]["models"][LENS] = {"prefix": os.fspath(p.lens_prefix), "z_lens": 0.396}
    p.write()
    return p.lens_map("alpha_x"), ["Z_LENS = 0.544", f"lens.models.{LENS}.z_lens = 0.396"]


@case("lens")
def default_z_lens_disagrees_with_the_maps(p):
    p.config["lens"]["z_lens"] = 0.3
    p.write()
    return p.lens_map("alpha_x"), ["Z_LENS = 0.544", "lens.z_lens = 0.3"]


@case("lens")
def maps_disagree_on_z_lens(p):
    edit_fits(p.lens_map("gamma"), set_card(0, "Z_LENS", 0.4))
    return p.lens_map("gamma"), ["Z_LENS = 0.4", "differs"]


@case("lens")
def no_z_lens_anywhere(p):
    lens_maps(p, lambda hdul: hdul[0].header.remove("Z_LENS"))
    return p.lens_prefix, ["no lens redshift", f"lens.models.{LENS}.z_lens", "Z_LENS"]


@case("lens")
def cut_out_missing_the_galaxy_centre(p):
    ra, dec = tangent_plane_to_sky(6.0, 0.0, p.ra, p.dec)
    cut = p.root.parent / "cut"
    lens_cut_out(os.fspath(p.lens_prefix), cut, float(ra), float(dec), 2.0)
    for key, path in hff_paths(p.lens_prefix).items():
        shutil.move(hff_paths(cut)[key], path)
    return p.lens_prefix, ["not on the lens-model maps", "9 x 9 pixels", "'lens_model'"]


@case("lens")
def cut_out_covering_less_than_half_the_frame(p):
    cut = p.root.parent / "cut"
    lens_cut_out(os.fspath(p.lens_prefix), cut, p.ra, p.dec, 0.3)
    for key, path in hff_paths(p.lens_prefix).items():
        shutil.move(hff_paths(cut)[key], path)
    return p.lens_prefix, ["of the square is on the lens-model maps", "'lens_model'"]


@case("lens")
def galaxy_in_front_of_the_lens(p):
    p.row["redshift"] = 0.3
    p.write()
    return p.sheet_path, ["galaxy 02806", "'redshift'", "not behind the lens", "Z_LENS"]


@case("lens")
def map_without_celestial_wcs(p):
    def strip(hdul):
        for key in ("CTYPE1", "CTYPE2"):
            del hdul[0].header[key]

    edit_fits(p.lens_map("kappa"), strip)
    return p.lens_map("kappa"), ["celestial", "RA/Dec", "WCS"]


@case("lens")
def maps_whose_wcs_disagree(p):
    edit_fits(p.lens_map("alpha_y"), set_card(0, "CRVAL2", p.dec + 1.0 / 3600.0))
    return p.lens_map("alpha_y"), ["WCS differs", "x-deflection map"]


@case("lens")
def map_truncated(p):
    path = p.lens_map("kappa")
    path.write_bytes(path.read_bytes()[:4000])
    return path, ["cannot be read as FITS"]


# ---- mass maps -------------------------------------------------------------------------------


@case("mass")
def missing_file(p):
    p.mass_map.unlink()
    return p.mass_map, ["file not found", "'mass_map'"]


@case("mass")
def log10_map_in_dex(p):
    def to_log(hdul):
        data = hdul[0].data.astype(float)
        hdul[0].data = np.log10(np.where(data > 0, data, np.nan))
        hdul[0].header["BUNIT"] = "dex(Msun/kpc2)"

    edit_fits(p.mass_map, to_log)
    return p.mass_map, ["BUNIT = 'dex(Msun/kpc2)'", "log10", "'mass_map'"]


@case("mass")
def log10_map_labelled_log(p):
    edit_fits(p.mass_map, set_card(0, "BUNIT", "log(Msun/kpc^2)"))
    return p.mass_map, ["BUNIT = 'log(Msun/kpc^2)'", "'mass_map'"]


@case("mass")
def no_celestial_wcs(p):
    def strip(hdul):
        for key in ("CTYPE1", "CTYPE2"):
            del hdul[0].header[key]

    edit_fits(p.mass_map, strip)
    return p.mass_map, ["no celestial", "CTYPE1/2", "'mass_map'"]


@case("mass")
def galaxy_outside_the_map(p):
    edit_fits(p.mass_map, set_card(0, "CRVAL2", p.dec + 10.0 / 3600.0))
    return p.mass_map, ["falls outside the image", "'mass_map'"]


@case("mass")
def all_nan(p):
    edit_fits(p.mass_map, lambda hdul: hdul[0].data.__setitem__(Ellipsis, np.nan))
    return p.mass_map, ["no positive finite pixel", "'mass_map'"]


@case("mass")
def nan_at_the_galaxy(p):
    def hole(hdul):
        ny, nx = hdul[0].data.shape
        hdul[0].data[ny // 2 - 2 : ny // 2 + 3, nx // 2 - 2 : nx // 2 + 3] = np.nan

    edit_fits(p.mass_map, hole)
    return p.mass_map, ["NaN at the galaxy's position", "'mass_map'"]


@case("mass")
def a_3d_cube(p):
    def cube(hdul):
        hdul[0].data = np.stack([hdul[0].data] * 3)

    edit_fits(p.mass_map, cube)
    return p.mass_map, ["must be 2D", "(3, 48, 48)", "'mass_map'"]


@case("mass")
def segmentation_not_integer(p):
    path = Path(p.row["segmentation"])

    def fractional(hdul):
        hdul[0].data = hdul[0].data.astype(np.float32)
        hdul[0].data[3, 3] = 0.5

    edit_fits(path, fractional)
    return path, ["segmentation map holds integer object ids", "'segmentation'"]


# ---- sample sheet ----------------------------------------------------------------------------


def _append_row(p, **changes):
    """Add a second row: the first with ``changes``."""
    lines = p.sheet_path.read_text().splitlines()
    cells = dict(zip(SHEET_COLUMNS, lines[-1].split("\t")))
    cells.update({k: str(v) for k, v in changes.items()})
    lines.append("\t".join(cells[c] for c in SHEET_COLUMNS))
    p.sheet_path.write_text("\n".join(lines) + "\n")


def _set_row(p, **changes):
    p.row.update(changes)
    p.write()


@case("sheet")
def same_galaxy_twice(p):
    _append_row(p, ra_deg=p.ra + 1e-3)
    return p.sheet_path, ["galaxy_id 02806 appears more than once"]


@case("sheet")
def lens_model_not_configured(p):
    _set_row(p, lens_model="zitrin_ltm")
    return p.sheet_path, ["galaxy 02806", "'lens_model'", "'zitrin_ltm'", "lens.models"]


@case("sheet")
def unknown_column(p):
    text = p.sheet_path.read_text().replace("\tredshift\t", "\tz_spec\t")
    p.sheet_path.write_text(text)
    return p.sheet_path, ["unknown column(s) z_spec"]


@case("sheet")
def non_numeric_redshift(p):
    _set_row(p, redshift="1.5?")
    return p.sheet_path, ["row 1", "line 3", "galaxy 02806", "'redshift'", "'1.5?'"]


@case("sheet")
def ra_out_of_range(p):
    _set_row(p, ra_deg=-177.4)
    return p.sheet_path, ["galaxy 02806", "'ra_deg'", "-177.4"]


@case("sheet")
def glass_template_without_pa(p):
    _set_row(p, spectra=os.fspath(p.spectrum()))
    return p.sheet_path, ["galaxy 02806", "'spectra'", "{pa}"]


@case("sheet")
def glass_template_with_an_unknown_placeholder(p):
    _set_row(p, spectra=p.row["spectra"].replace(GALAXY, "{id}"))
    return p.sheet_path, ["galaxy 02806", "'spectra'", "KeyError: 'id'", "{galaxy}"]


@case("sheet")
def glass_template_with_an_unpaired_brace(p):
    _set_row(p, spectra=p.row["spectra"] + "{")
    return p.sheet_path, ["galaxy 02806", "'spectra'", "Single '{'"]


@case("sheet")
def observation_not_configured(p):
    _set_row(p, observations="119-G141,125-G102")
    return p.sheet_path, ["galaxy 02806", "'observations'", "125-G102"]


@case("sheet")
def not_observed_at_the_reference_pa(p):
    _set_row(p, observations="032-G102,032-G141")
    return p.sheet_path, ["galaxy 02806", "'observations'", "reference_pa", "119"]


@case("sheet")
def mass_error_without_a_mass(p):
    _set_row(p, log_mstar=None)
    return p.sheet_path, ["galaxy 02806", "'log_mstar' is a dependency of 'log_mstar_err_lo'"]


@case("sheet")
def redshift_with_no_line_in_any_grism(p):
    _set_row(p, redshift=3.9)
    return p.sheet_path, ["galaxy 02806", "'redshift'", "none of the lines"]


@case("sheet")
def sheet_not_found(p):
    p.sheet_path.unlink()
    return p.sheet_path, ["sample sheet not found"]


# ---- configuration ---------------------------------------------------------------------------


def _set_config(p, edit):
    edit(p.config)
    p.write()
    return p.config_path


@case("config")
def calibration_not_in_the_registry(p):
    _set_config(p, lambda c: c.update(inference={"model": {"calibration": "kewley2002"}}))
    return p.config_path, ["inference.model", "calibration", "'kewley2002'"]


@case("config")
def unknown_key_in_a_settings_section(p):
    _set_config(p, lambda c: c.update(inference={"sampler": {"n_walker": 64}}))
    return p.config_path, ["inference.sampler", "n_walker"]


@case("config")
def unknown_key_in_a_schema_section(p):
    _set_config(p, lambda c: c.update(gradients={"min_spaxel": 3}))
    return p.config_path, ["'gradients'", "'min_spaxel'"]


@case("config")
def reference_pa_not_observed(p):
    _set_config(p, lambda c: c.update(reference_pa="125"))
    return p.sheet_path, ["galaxy 02806", "reference PA 125", "reference_pa"]


@case("config")
def prior_bounds_reversed(p):
    _set_config(p, lambda c: c.update(inference={"model": {"oh12_prior": [9.3, 7.0]}}))
    return p.config_path, ["inference.model", "oh12_prior"]


@case("config")
def mock_without_exposure_time(p):
    def edit(config):
        config["mock"] = {"enabled": True}
        del config["observations"][1]["exposure_time"]

    _set_config(p, edit)
    return p.config_path, ["observations.1.exposure_time", "032-G141"]


@case("config")
def lens_model_entry_with_an_unknown_key(p):
    entry = {"prefix": os.fspath(p.lens_prefix), "zlens": 0.544}
    _set_config(p, lambda c: c["lens"]["models"].update({LENS: entry}))
    return p.config_path, [f"lens.models.{LENS}", "('zlens' was unexpected)"]


@case("config")
def observation_pa_not_three_digits(p):
    _set_config(p, lambda c: c["observations"][2].update(pa=119))
    return p.config_path, ["observations.2.pa"]


@case("config")
def calibration_dir_not_a_folder(p):
    _set_config(p, lambda c: c.update(calibration_dir=os.fspath(p.root / "calib")))
    return p.config_path, ["field 'calibration_dir'", "not a folder"]


@case("config")
def observation_listed_twice(p):
    _set_config(p, lambda c: c["observations"].append(dict(c["observations"][0])))
    return p.config_path, ["observations.3", "listed twice"]


@case("sheet")
def position_off_the_spectra(p):
    _set_row(p, ra_deg=p.ra + 10.0 / 3600.0)
    return p.spectrum("032", "G102"), ["the sheet's ra_deg, dec_deg", "beyond its stamp"]


@case("config")
def not_yaml(p):
    p.config_path.write_text("samples: [unclosed\n")
    return p.config_path, ["not valid YAML"]


@case("config")
def validate_outside_the_workflow_folder(p):
    p.options = ("--schemas", os.fspath(p.root / "schemas"))
    return p.root / "schemas", ["config.schema.yaml", "--schemas"]


@pytest.mark.parametrize("breaks", CASES)
def test_validate_refuses_naming_file_and_field(project, tmp_path, capsys, breaks):
    p = project.copy(tmp_path / "project")
    named, fragments = breaks(p)
    before = listing(p.root)
    rc, out, err = validate(p, capsys, *p.options)
    assert rc == 2, (out, err)
    assert err.startswith("ohmap: error: "), err
    assert os.fspath(named) in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert "Traceback" not in err
    assert listing(p.root) == before


def test_a_cut_out_covering_the_centre_but_not_the_frame_is_a_warning(project, tmp_path, capsys):
    """What docs/inputs.md says is accepted: a lens cut-out smaller than the frame."""
    p = project.copy(tmp_path / "project")
    cut = tmp_path / "cut"
    lens_cut_out(os.fspath(p.lens_prefix), cut, p.ra, p.dec, 1.0)
    for key, path in hff_paths(p.lens_prefix).items():
        shutil.move(hff_paths(cut)[key], path)
    rc, out, err = validate(p, capsys)
    assert rc == 0, err
    assert "warning:" in out and os.fspath(p.lens_prefix) in out and "'lens_model'" in out


# --------------------------------------------------------------------------------------------
# Flux tables of ohmap fit-fluxes
# --------------------------------------------------------------------------------------------

FLUX_UNIT = u.Unit("1e-17 erg / (s cm2)")
FLUXES = {"OII": 6.0, "Hb": 4.0, "OIII5008": 12.0, "Ha": 14.0}


def flux_table(rows=(("a", 1.5), ("b", 2.1))) -> Table:
    table = Table()
    table["id"] = [r[0] for r in rows]
    table["z"] = [r[1] for r in rows]
    for line, flux in FLUXES.items():
        table[f"{line}_flux"] = [flux] * len(rows)
        table[f"{line}_err"] = [0.1 * flux] * len(rows)
    return table


def write_csv(table: Table, path: Path) -> Path:
    table.write(path, format="ascii.csv")
    return path


FLUX_CASES = []


def flux_case(func):
    FLUX_CASES.append(pytest.param(func, id=func.__name__))
    return func


@flux_case
def negative_error(folder):
    table = flux_table()
    table["Hb_err"][1] = -0.4
    return write_csv(table, folder / "fluxes.csv"), ["row 2", "'b'", "Hb_err = -0.4"]


@flux_case
def flux_density_unit_on_a_flux_column(folder):
    table = flux_table()
    for name in table.colnames[2:]:
        table[name].unit = FLUX_UNIT
    table["Hb_flux"].unit = u.erg / (u.s * u.cm**2 * u.Angstrom)
    path = folder / "fluxes.ecsv"
    table.write(path, format="ascii.ecsv")
    return path, ["'Hb_flux'", "Angstrom", "cannot be converted"]


@flux_case
def flux_without_its_error_column(folder):
    table = flux_table()
    table.remove_column("OII_err")
    return write_csv(table, folder / "fluxes.csv"), ["'OII_flux'", "'OII_err'"]


@flux_case
def duplicate_id(folder):
    table = flux_table((("a", 1.5), ("a", 2.1)))
    return write_csv(table, folder / "fluxes.csv"), ["row 2", "'a'", "same id as row 1"]


@flux_case
def empty_table(folder):
    table = flux_table(())
    return write_csv(table, folder / "fluxes.csv"), ["no rows"]


@flux_case
def empty_file(folder):
    path = folder / "fluxes.csv"
    path.write_text("")
    return path, ["cannot read the table as CSV"]


@flux_case
def flux_not_a_number(folder):
    path = write_csv(flux_table(), folder / "fluxes.csv")
    path.write_text(path.read_text().replace(",4.0,", ",four,", 1))
    return path, ["row 1", "Hb_flux = 'four' is not a number"]


def fit_fluxes(table: Path, out: Path, config: Path) -> int:
    return main(
        [
            "fit-fluxes",
            os.fspath(table),
            "--out",
            os.fspath(out),
            "--config",
            os.fspath(config),
            "--steps",
            "100",
            "--burn",
            "50",
            "--walkers",
            "16",
            "-q",
        ]
    )


@pytest.fixture()
def flux_folder(tmp_path):
    folder = tmp_path / "fluxes"
    folder.mkdir()
    (folder / "config.yaml").write_text("inference: {}\n")
    return folder


def test_the_valid_flux_table_is_fitted(flux_folder, capsys):
    out = flux_folder / "result.ecsv"
    table = write_csv(flux_table(), flux_folder / "fluxes.csv")
    assert fit_fluxes(table, out, flux_folder / "config.yaml") == 0, capsys.readouterr().err
    assert len(Table.read(out)) == 2


@pytest.mark.parametrize("breaks", FLUX_CASES)
def test_fit_fluxes_refuses_naming_file_row_and_column(flux_folder, capsys, breaks):
    table, fragments = breaks(flux_folder)
    out = flux_folder / "result.ecsv"
    before = listing(flux_folder)
    rc = fit_fluxes(table, out, flux_folder / "config.yaml")
    err = capsys.readouterr().err
    assert rc == 2, err
    assert f"ohmap: error: {table}: " in err, err
    for fragment in fragments:
        assert fragment in err, (fragment, err)
    assert not out.exists()
    assert listing(flux_folder) == before


# --------------------------------------------------------------------------------------------
# The workflow refuses before its first job
# --------------------------------------------------------------------------------------------


@pytest.mark.workflow
@pytest.mark.parametrize(
    "breaks",
    [
        pytest.param(inverse_variance_labelled_as_an_error, id="bad_spectrum"),
        pytest.param(cut_out_missing_the_galaxy_centre, id="lens_cut_out_missing_the_centre"),
    ],
)
def test_the_workflow_stops_before_any_job(project, tmp_path, breaks):
    p = project.copy(tmp_path / "project")
    named, fragments = breaks(p)
    work = copy_workflow(tmp_path / "work")
    before = listing(p.root)
    result = run_snakemake(work, "-n", "--configfile", os.fspath(p.config_path), check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "ohmap: bad input" in output and os.fspath(named) in output, output[-3000:]
    for fragment in fragments:
        assert fragment in output, (fragment, output[-3000:])
    assert "Job stats" not in output and "localrule" not in output
    assert not (work / "results").exists()
    assert listing(p.root) == before
