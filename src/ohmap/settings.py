"""Settings dataclasses built from one section of the configuration."""

from __future__ import annotations

from dataclasses import MISSING, fields

from ohmap.errors import InputError


class ConfigSection:
    """Mixin for dataclasses of science settings: ``from_config`` builds one from a config
    section (a dict, or ``None`` for all defaults) and names an unknown key."""

    @classmethod
    def from_config(cls, section: dict | None, source: str = "configuration"):
        section = dict(section or {})
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise InputError(
                source,
                f"unknown {cls.__name__} setting(s) {', '.join(unknown)}; "
                f"known: {', '.join(sorted(known))}",
            )
        for f in fields(cls):
            if f.name not in section:
                continue
            value = section[f.name]
            if isinstance(value, list):
                value = section[f.name] = tuple(value)
            default = (
                f.default
                if f.default is not MISSING
                else (f.default_factory() if f.default_factory is not MISSING else None)
            )
            if default is not None and value is not None and not _same_kind(value, default):
                raise InputError(
                    source,
                    f"field {f.name!r} = {value!r}: expected "
                    f"{_kind_name(default)} like the default {default!r}",
                )
            if type(default) is int and isinstance(value, float):
                section[f.name] = int(value)
        return cls(**section)


def _same_kind(value, default) -> bool:
    if isinstance(default, bool):
        return isinstance(value, bool)
    if isinstance(default, (int, float)):
        return (
            isinstance(value, (int, float))
            and not isinstance(value, bool)
            and (isinstance(default, float) or float(value).is_integer())
        )
    if isinstance(default, tuple):
        return isinstance(value, tuple)
    return isinstance(value, type(default))


def _kind_name(default) -> str:
    if isinstance(default, bool):
        return "true or false"
    if isinstance(default, (int, float)):
        return "a number" if isinstance(default, float) else "a whole number"
    return {tuple: "a list", dict: "a mapping", str: "a string"}.get(
        type(default), type(default).__name__
    )
