"""Whether a FITS file is whole before it is read.

astropy opens a truncated or corrupt file lazily and says so only in warnings ("File may have
been truncated", "... the file is corrupted"), dropping the HDUs it cannot read, or fails later
with an exception of no particular type (``TypeError: buffer is too small``); a reader would
then see a file without its last extensions, or stop with a bare Python error.
:func:`require_whole_fits` reads every HDU up front and refuses such a file naming it.
"""

from __future__ import annotations

import warnings

from astropy.io import fits

from ohmap.errors import InputError


def require_whole_fits(path) -> None:
    """Refuse a file that astropy cannot read whole: not FITS, truncated or corrupt.

    Every HDU's header and data are read (memory-mapped where possible), with astropy's
    warnings of truncation or corruption taken as errors.

    Raises
    ------
    InputError
        Naming the file and what astropy said.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=r"(?is).*(truncated|corrupt)")
        try:
            with fits.open(path, lazy_load_hdus=False) as hdul:
                for hdu in hdul:
                    hdu.data  # read (mapped) now: a short file fails here
        except Exception as exc:  # astropy raises (and warns) many kinds for a broken file
            raise InputError(
                path,
                f"cannot be read as FITS ({' '.join(str(exc).split())}): not a FITS file, or "
                "truncated or corrupt",
            ) from None
