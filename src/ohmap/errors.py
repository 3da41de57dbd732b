"""Errors raised for bad input: each names the file (and row or field) and what is wrong."""

from __future__ import annotations

import os


class InputError(ValueError):
    """Raised when an input file, table row or configuration field cannot be used.

    Parameters
    ----------
    source : str or os.PathLike or None
        The file (or table, or configuration file) the problem was found in.
    problem : str
        What is wrong, in words a user can act on.
    """

    def __init__(self, source: str | os.PathLike | None, problem: str):
        self.source = None if source is None else os.fspath(source)
        self.problem = problem
        super().__init__(problem if self.source is None else f"{self.source}: {problem}")
