"""The mock's random streams: every key enters whole, so no two galaxies share a stream."""

import numpy as np

from ohmap.streams import object_stream


def test_ids_that_share_their_first_four_bytes_get_independent_streams():
    # 01422 and 01423 agree in their first 4 bytes; a stream keyed on a truncated id would repeat.
    first = object_stream(20170207, "01422", "032", "G141", "noise").normal(size=8)
    second = object_stream(20170207, "01423", "032", "G141", "noise").normal(size=8)
    assert not np.allclose(first, second)


def test_long_purpose_names_that_differ_late_get_independent_streams():
    a = object_stream(1, "galaxy", "calibration_x").random(4)
    b = object_stream(1, "galaxy", "calibration_y").random(4)
    assert not np.allclose(a, b)


def test_a_stream_is_reproducible_from_its_seed_and_keys():
    a = object_stream(7, "02389", "stamps").random(4)
    b = object_stream(7, "02389", "stamps").random(4)
    np.testing.assert_array_equal(a, b)
