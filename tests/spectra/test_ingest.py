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
    ) as info:
        read_spectrum(path, "grizli", "00152", "032", "G141", calibration_dir=wfc3_calibration_dir)
    # The message says what the labels are, how each was derived and how to write them.
    message = str(info.value)
    assert "Labels are PA_V3 = dispersion PA + 45 deg, rounded to a whole degree" in message
    assert "G102: EXTVER 'G102,75.0': dispersion PA 75 + 45 = PA_V3 120" in message
    assert "G141: EXTVER 'G141,74.0': dispersion PA 74 + 45 = PA_V3 119" in message
    assert 'observations as {pa: "120", grism: G102}' in message and "column as 120-G102" in message
    out = tmp_path / "00152_119-G141.fits"
    write_spectrum_product(spec, out)
    back = read_spectrum_product(out)
    assert back.meta["has_continuum_model"] is True and back.direct_image is None
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


def test_object_152_pa_labels_of_every_grizli_file(grizli_object_dir, wfc3_calibration_dir):
    """The labels docs/spectra.md lists ("PA labels of grizli products"): the same for the stack
    (EXTVER dispersion PAs 75.0, 74.0) and both beams files (PAs from the WCS, 74.57 and 74.38,
    rounded), so one config serves them all."""
    from ohmap.spectra.grizli_beams import read_grizli_beams
    from ohmap.spectra.grizli_stack import read_grizli_stack

    calib = wfc3_calibration_dir
    files = {
        "stack": read_grizli_stack(grizli_object_dir / "j033216m2743_00152.stack.fits", calib),
        "stack+combined": read_grizli_stack(
            grizli_object_dir / "j033216m2743_00152.stack.fits", calib, include_combined=True
        ),
        "beams": read_grizli_beams(
            grizli_object_dir / "j033216m2743_00152.model-trace.beams.fits", calibration_dir=calib
        ),
        "beams 2020": read_grizli_beams(
            grizli_object_dir / "j033216m2743_00152.beams.fits", calibration_dir=calib
        ),
    }
    for name, spectra in files.items():
        labels = sorted({f"{s.pa}-{s.grism}" for s in spectra})
        assert labels == ["119-G141", "120-G102"], name
        for s in spectra:
            assert s.pa_v3 == (s.dispersion_pa + 45) % 360
    exact = [s.meta["dispersion_pa_exact"][0] for s in files["beams 2020"]]
    assert exact == pytest.approx([74.57, 74.38], abs=0.01)
