"""Reading one PA-grism spectrum whatever the format, and ohmap's own product round trip."""

from __future__ import annotations

import numpy as np
import pytest

from mock_helpers import simulate
from ohmap.errors import InputError
from ohmap.spectra.ingest import read_spectrum
from ohmap.spectra.products import read_spectrum_product, write_spectrum_product


def test_grizli_stack_block_selection(grizli_object_dir, wfc3_calibration_dir, tmp_path):
    path = grizli_object_dir / "j033216m2743_00152.stack.fits"
    spec = read_spectrum(
        path, "grizli", "00152", "119", "G141", calibration_dir=wfc3_calibration_dir
    )
    assert spec.grism == "G141" and spec.pa == "119"
    with pytest.raises(
        InputError, match=r"has no block for PA 032 G141 \(it has 120-G102, 119-G141\)"
    ):
        read_spectrum(path, "grizli", "00152", "032", "G141", calibration_dir=wfc3_calibration_dir)
    out = tmp_path / "00152_119-G141.fits"
    write_spectrum_product(spec, out)
    back = read_spectrum_product(out)
    assert np.array_equal(np.isfinite(back.error), np.isfinite(spec.error))
    ok = np.isfinite(spec.error)
    assert np.allclose(back.science[ok], spec.science[ok], rtol=1e-6)


def test_glass_file_must_match_its_wildcards(tmp_path):
    written = simulate("05709", tmp_path)
    path = next(p for p in written["spectra"] if "-125-G102_" in p.name)
    spec = read_spectrum(path, "glass", "05709", "125", "G102")
    assert spec.pa == "125"
    with pytest.raises(InputError, match="expected PA 119 G141"):
        read_spectrum(path, "glass", "05709", "119", "G141")
    with pytest.raises(InputError, match="unknown spectra_format"):
        read_spectrum(path, "axe", "05709", "125", "G102")
