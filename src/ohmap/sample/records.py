"""Result records of the sample-level relations: frozen dataclasses also readable as mappings."""

from __future__ import annotations


def record_item(obj, key):
    """``obj.key`` for a public attribute name, else ``KeyError`` (mapping-style access)."""
    if not isinstance(key, str) or key.startswith("_") or not hasattr(obj, key):
        raise KeyError(key)
    return getattr(obj, key)
