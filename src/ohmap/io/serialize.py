"""Rendering provenance values for JSON blobs and FITS header cards."""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path

import numpy as np


def json_default(value):
    """JSON form of what ``json`` does not know: numpy scalars and arrays, dataclasses, paths."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return dataclasses.asdict(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (Path, os.PathLike)):
        return os.fspath(value)
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def dumps(value) -> str:
    """Deterministic JSON (sorted keys) of a provenance value."""
    return json.dumps(value, default=json_default, sort_keys=True)


def plain(value):
    """``value`` as plain JSON types (numpy scalars and arrays, tuples, dataclasses and paths
    converted), e.g. for table metadata."""
    return json.loads(dumps(value))


def card_value(value):
    """A header-safe rendering of a provenance value (FITS cards cannot hold NaN or inf)."""
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if np.isfinite(value) else str(value)
    return str(value)
