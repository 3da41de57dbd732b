"""Random streams, one per object, so that no result depends on how objects are grouped."""

from __future__ import annotations

import numpy as np


def object_stream(seed: int, *key) -> np.random.Generator:
    """The random stream of one object (e.g. ``key = (galaxy, spaxel index)``)."""
    # Each key part enters whole (SeedSequence takes integers of any size), tagged with its type
    # so that 7 and "7" differ.
    words = [int(seed)] + [
        int.from_bytes(f"{type(k).__name__}:{k}".encode(), "little") for k in key
    ]
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))
