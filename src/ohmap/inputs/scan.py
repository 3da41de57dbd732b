"""A folder of a user's data, scanned for what ``ohmap init`` needs: which galaxies have spectra
(GLASS ``*.2D.fits``, grizli ``*.stack.fits`` or ``*.beams.fits``) at which PA and grism, their
lens models (HFF maps), stellar-mass maps, direct images and segmentation maps, and a catalogue
of redshifts and masses, if there is one.

Every spectrum is opened with the reader the workflow uses, so a file the workflow would refuse
is reported here, with the reader's reason, and left out. Everything taken from a file says
which file; everything assumed is listed in :attr:`DataScan.assumed`, everything missing in
:attr:`DataScan.missing`.
"""

from __future__ import annotations

import logging
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from astropy.io import fits
from astropy.table import Table
from astropy.wcs import WCS, FITSFixedWarning

from ohmap.errors import InputError
from ohmap.io.hff import HFF_SUFFIXES

log = logging.getLogger(__name__)

_GLASS = re.compile(
    r"^(?P<field>.+?)-(?P<pa>\d{3})-(?P<grism>G\d{3})_(?P<galaxy>[^/]+?)\.2D\.fits$", re.I
)
_GRIZLI = re.compile(r"^(?P<root>.+)_(?P<galaxy>[A-Za-z0-9]+)\.(?P<kind>stack|beams)\.fits$", re.I)
_LENS_SUFFIX = "_" + HFF_SUFFIXES["alpha_x"] + ".fits"
_MASS_WORDS = ("mstar", "mass", "smd", "sigma_m")
_SEG_WORDS = ("seg",)
_CATALOGUE_SUFFIXES = (".tsv", ".csv", ".ecsv", ".cat")
#: Catalogue columns, by the names ohmap uses, and the names they are found under.
CATALOGUE_COLUMNS = {
    "galaxy_id": ("galaxy_id", "id", "object_id", "objid"),
    "redshift": ("redshift", "z", "z_spec", "zspec"),
    "ra_deg": ("ra_deg", "ra"),
    "dec_deg": ("dec_deg", "dec"),
    "log_mstar": ("log_mstar", "logmstar", "lmass", "log_mass"),
    "log_mstar_err_lo": ("log_mstar_err_lo",),
    "log_mstar_err_hi": ("log_mstar_err_hi",),
    "nii_ha": ("nii_ha",),
}


@dataclass
class FoundSpectra:
    """The spectra of one galaxy: their format, path (template) and PA-grism pairs."""

    galaxy: str
    spectra_format: str
    spectra: str
    observations: dict = field(default_factory=dict)  # (pa, grism) -> exposure time or None
    ra_deg: float | None = None
    dec_deg: float | None = None
    field_name: str | None = None
    has_direct_image: bool = True
    pixel_scale: float | None = None


@dataclass
class FoundLens:
    """One HFF lens model: its name, map prefix, ``Z_LENS`` and sky footprint."""

    name: str
    prefix: str
    z_lens: float | None
    wcs: WCS
    shape: tuple

    def covers(self, ra: float, dec: float) -> bool:
        x, y = self.wcs.world_to_pixel_values(ra, dec)
        ny, nx = self.shape
        return bool(np.isfinite(x) and -0.5 <= x <= nx - 0.5 and -0.5 <= y <= ny - 0.5)


@dataclass
class DataScan:
    """What a folder holds, and what could not be used."""

    root: Path
    galaxies: dict = field(default_factory=dict)  # id -> FoundSpectra
    lenses: list = field(default_factory=list)
    images: dict = field(default_factory=dict)  # id -> {column: path}
    catalogue: dict = field(default_factory=dict)  # id -> {column: value}
    catalogue_path: Path | None = None
    calibration_dir: Path | None = None
    refused: list = field(default_factory=list)  # "path: why"
    assumed: list = field(default_factory=list)
    missing: list = field(default_factory=list)


def _tokens(name: str) -> list[str]:
    return [t for t in re.split(r"[_.\-]+", name) if t]


def scan_data_dir(root, calibration_dir=None) -> DataScan:
    """Scan ``root`` (recursively) for spectra, lens maps, images and a catalogue.

    Parameters
    ----------
    root : path-like
        The folder.
    calibration_dir : path-like, optional
        aXe configuration folder for grizli products in counts/s or beams without TRACE;
        default: a folder below ``root`` holding ``*.conf`` files, if there is one.

    Raises
    ------
    InputError
        When ``root`` is not a folder or holds no spectrum ohmap can read.
    """
    root = Path(root).resolve()
    if not root.is_dir():
        raise InputError(root, "not a folder")
    scan = DataScan(root=root)
    scan.calibration_dir = Path(calibration_dir).resolve() if calibration_dir else _find_conf(root)
    files = sorted(p for p in root.rglob("*") if p.is_file())
    fits_files = [p for p in files if p.name.lower().endswith((".fits", ".fits.gz"))]
    rest = []
    for path in fits_files:
        if _GLASS.match(path.name):
            _add_glass(scan, path)
        elif _GRIZLI.match(path.name):
            _add_grizli(scan, path)
        elif path.name.endswith(_LENS_SUFFIX):
            _add_lens(scan, path)
        elif not any(path.name.endswith(f"_{s}.fits") for s in HFF_SUFFIXES.values()):
            rest.append(path)
    if not scan.galaxies:
        raise InputError(
            root,
            "no spectrum ohmap can read was found (GLASS '<field>-<PA>-<grism>_<id>.2D.fits', "
            "grizli '<root>_<id>.stack.fits' or '<root>_<id>.beams.fits')"
            + ("; refused: " + "; ".join(scan.refused) if scan.refused else ""),
        )
    for path in rest:
        _add_image(scan, path)
    _read_catalogue(scan, [p for p in files if p.suffix.lower() in _CATALOGUE_SUFFIXES])
    return scan


def _find_conf(root: Path) -> Path | None:
    folders = sorted({p.parent for p in root.rglob("*.conf")})
    return folders[0] if folders else None


def _add_glass(scan: DataScan, path: Path) -> None:
    from ohmap.spectra.glass import read_glass_2d

    info = _GLASS.match(path.name).groupdict()
    try:
        spec = read_glass_2d(path)
    except InputError as error:
        scan.refused.append(str(error))
        return
    gid = info["galaxy"]
    template = str(path.parent / f"{info['field']}-{{pa}}-{{grism}}_{gid}.2D.fits")
    found = scan.galaxies.get(gid)
    if found is None:
        found = FoundSpectra(gid, "glass", template, field_name=info["field"])
        scan.galaxies[gid] = found
    elif found.spectra != template:
        scan.refused.append(f"{path}: galaxy {gid} already has spectra at {found.spectra}")
        return
    found.observations[(spec.pa, spec.grism)] = spec.exposure_time
    found.pixel_scale = spec.pixel_scale
    found.has_direct_image = found.has_direct_image and spec.direct_image is not None
    _position(found, spec.meta.get("ra"), spec.meta.get("dec"))


def _add_grizli(scan: DataScan, path: Path) -> None:
    from ohmap.spectra.grizli_beams import read_grizli_beams
    from ohmap.spectra.grizli_stack import read_grizli_stack

    info = _GRIZLI.match(path.name).groupdict()
    kind = info["kind"].lower()
    reader = read_grizli_stack if kind == "stack" else read_grizli_beams
    try:
        blocks = reader(path, calibration_dir=scan.calibration_dir, galaxy=info["galaxy"])
    except InputError as error:
        scan.refused.append(str(error))
        return
    gid = info["galaxy"]
    spectra_format = "grizli" if kind == "stack" else "grizli_beams"
    if gid in scan.galaxies:
        # One file per galaxy: the beams (native cutouts) are preferred to a drizzled stack.
        if scan.galaxies[gid].spectra_format == "grizli_beams" or spectra_format == "grizli":
            scan.assumed.append(f"galaxy {gid}: {path} not used, {scan.galaxies[gid].spectra} is")
            return
        scan.assumed.append(f"galaxy {gid}: {path} used rather than {scan.galaxies[gid].spectra}")
    found = FoundSpectra(gid, spectra_format, str(path))
    for spec in blocks:
        found.observations[(spec.pa, spec.grism)] = spec.exposure_time
        found.pixel_scale = spec.pixel_scale
        found.has_direct_image = found.has_direct_image and spec.direct_image is not None
        _position(found, spec.meta.get("ra"), spec.meta.get("dec"))
    scan.galaxies[gid] = found


def _position(found: FoundSpectra, ra, dec) -> None:
    try:
        ra, dec = float(ra), float(dec)
    except (TypeError, ValueError):
        return
    if np.isfinite(ra) and np.isfinite(dec) and found.ra_deg is None:
        found.ra_deg, found.dec_deg = ra, dec


def _add_lens(scan: DataScan, path: Path) -> None:
    prefix = str(path)[: -len(_LENS_SUFFIX)]
    stem = Path(prefix).name
    name = re.sub(r"[^A-Za-z0-9_]", "_", re.sub(r"^hlsp_frontier_model_", "", stem, flags=re.I))
    try:
        with fits.open(path) as hdul:
            hdu = next(h for h in hdul if h.data is not None)
            header, shape = hdu.header, hdu.data.shape
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FITSFixedWarning)
            wcs = WCS(header).celestial
    except (OSError, StopIteration) as exc:
        scan.refused.append(f"{path}: cannot be read as a lens map ({exc})")
        return
    if wcs.naxis != 2 or len(shape) != 2:
        scan.refused.append(f"{path}: a lens map needs a 2D image with a celestial WCS")
        return
    z_lens = header.get("Z_LENS")
    scan.lenses.append(
        FoundLens(name, prefix, None if z_lens is None else float(z_lens), wcs, shape)
    )


def _add_image(scan: DataScan, path: Path) -> None:
    tokens = [t.lower() for t in _tokens(path.name)]
    owners = [gid for gid in scan.galaxies if gid.lower() in tokens]
    if len(owners) != 1:
        return
    gid = owners[0]
    if any(word in t for t in tokens for word in _MASS_WORDS):
        column = "mass_map"
    elif any(word in t for t in tokens for word in _SEG_WORDS):
        column = "segmentation"
    else:
        column = "direct_image"
    images = scan.images.setdefault(gid, {})
    if column in images:
        scan.assumed.append(f"galaxy {gid}: {column} {images[column]} used, {path} not")
        return
    images[column] = str(path)


def _read_catalogue(scan: DataScan, candidates) -> None:
    """The first table naming some of the galaxies, with an id and a redshift column."""
    for path in candidates:
        table = _table(path)
        if table is None:
            continue
        names = {c.strip().lower(): c for c in table.columns}
        found = {
            key: next((names[a] for a in aliases if a in names), None)
            for key, aliases in CATALOGUE_COLUMNS.items()
        }
        if found["galaxy_id"] is None or found["redshift"] is None:
            continue
        ids = [str(v).strip() for v in table[found["galaxy_id"]]]
        if not set(ids) & set(scan.galaxies):
            continue
        for i, gid in enumerate(ids):
            if gid not in scan.galaxies:
                continue
            row = {}
            for key, column in found.items():
                if column is None or key == "galaxy_id":
                    continue
                text = str(table[column].iloc[i]).strip()
                try:
                    value = float(text)
                except ValueError:
                    scan.refused.append(
                        f"{path}: row of {gid}, column {column!r}: {text!r} is not a number"
                    )
                    continue
                if np.isfinite(value):
                    row[key] = value
            scan.catalogue[gid] = row
        scan.catalogue_path = path
        return


def _table(path: Path):
    """A text table as strings (ids keep their leading zeros), or None when it is not one."""
    try:
        if path.suffix.lower() == ".ecsv":
            return Table.read(path, format="ascii.ecsv").to_pandas().astype(str)
        return pd.read_csv(path, sep=None, engine="python", dtype=str, comment="#").fillna("")
    except Exception:  # not a table (pandas and astropy raise many kinds): the file is not used
        return None
