"""Writing files so that a crash never leaves a complete-looking one behind."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from astropy.io import fits


def write_fits_atomic(hdul, path, overwrite: bool = True) -> Path:
    """Write ``hdul`` (an HDUList or a single HDU) to ``path`` via a temporary file.

    The data go to ``<path>.part`` first and are renamed into place only when complete, so an
    interrupted job leaves no file under the final name. Parent folders are created.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise OSError(f"{path} exists and overwrite is False")
    if not isinstance(hdul, fits.HDUList):
        hdul = fits.HDUList([hdul])
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    hdul.writeto(tmp, overwrite=True)
    os.replace(tmp, path)
    return path


@contextmanager
def atomic_path(path):
    """Context manager giving a temporary path next to ``path`` to write to; it is renamed to
    ``path`` when the block completes and removed if the block raises."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part" + path.suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
