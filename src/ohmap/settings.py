"""Settings dataclasses built from one section of the configuration."""

from __future__ import annotations

from dataclasses import fields

from .errors import InputError


class ConfigSection:
    """Mixin for dataclasses of science settings: ``from_config`` builds one from a config
    section (a dict, or ``None`` for all defaults) and names an unknown key."""

    @classmethod
    def from_config(cls, section: dict | None, source: str = "configuration"):
        section = dict(section or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise InputError(source, f"unknown {cls.__name__} setting(s) {', '.join(unknown)}; "
                                     f"known: {', '.join(sorted(known))}")
        for f in fields(cls):
            if isinstance(section.get(f.name), list):
                section[f.name] = tuple(section[f.name])
        return cls(**section)
