"""Writing files so that a crash never leaves a complete-looking one behind.

Every writer goes to a temporary name in the destination folder (``<name>.part<suffix>``, see
:func:`atomic_path`) and renames it into place with :func:`os.replace` only once the file is
complete. A job killed at any moment (even by SIGKILL) therefore leaves at worst a ``.part``
file, never a truncated file under the final name that a workflow manager would take for done.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from astropy.io import fits


@contextmanager
def atomic_path(path):
    """Context manager giving a temporary path next to ``path`` to write to; it is renamed to
    ``path`` when the block completes and removed if the block raises.

    The temporary name is ``<name>.part<suffix>`` (``map.fits`` -> ``map.fits.part.fits``), so
    it keeps the suffix; writers that infer the format from it still work, but pass the format
    explicitly where the API allows."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part" + path.suffix)
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_fits_atomic(hdul, path, overwrite: bool = True) -> Path:
    """Write ``hdul`` (an HDUList or a single HDU) to ``path`` via :func:`atomic_path`.

    The data go to a temporary file first and are renamed into place only when complete, so an
    interrupted job leaves no file under the final name; a failed write leaves no temporary file
    either. Parent folders are created.
    """
    path = Path(path)
    if not overwrite and path.exists():
        raise OSError(f"{path} exists and overwrite is False")
    if not isinstance(hdul, fits.HDUList):
        hdul = fits.HDUList([hdul])
    with atomic_path(path) as tmp:
        hdul.writeto(tmp, overwrite=True)
    return path


def write_table_atomic(table, path, format: str, **kwargs) -> Path:
    """Write an astropy ``table`` to ``path`` in ``format`` (e.g. ``"ascii.ecsv"``, ``"fits"``)
    via :func:`atomic_path`. The format is required: it is never guessed from the temporary
    name. Extra keywords go to :meth:`astropy.table.Table.write`."""
    path = Path(path)
    with atomic_path(path) as tmp:
        table.write(tmp, format=format, overwrite=True, **kwargs)
    return path


def write_text_atomic(text: str, path, encoding: str = "utf-8") -> Path:
    """Write ``text`` to ``path`` via :func:`atomic_path`."""
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding=encoding)
    return path


def save_figure(fig, path, **kwargs) -> Path:
    """Save the matplotlib figure ``fig`` to ``path`` via :func:`atomic_path`. The format is
    taken from the suffix of ``path`` (not of the temporary name) unless ``format`` is given;
    other keywords (``dpi``, ...) go to :meth:`matplotlib.figure.Figure.savefig`. The figure is
    not closed."""
    path = Path(path)
    if kwargs.get("format") is None:
        if path.suffix:
            kwargs["format"] = path.suffix[1:].lower()
        else:
            import matplotlib

            kwargs["format"] = matplotlib.rcParams["savefig.format"]
    with atomic_path(path) as tmp:
        fig.savefig(tmp, **kwargs)
    return path
