"""The mock's random streams: one independent, reproducible stream per (seed, galaxy, PA, grism,
purpose), so that no simulated file depends on which others are simulated or in what order."""

from __future__ import annotations

import numpy as np


def mock_stream(seed: int, *keys) -> np.random.Generator:
    """An independent, reproducible random stream for (seed, galaxy, PA, grism, ...)."""
    words = [int(seed)] + [int.from_bytes(str(k).encode(), "little") % (2**32) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(words))
