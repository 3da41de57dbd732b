"""Logging set-up shared by the workflow scripts and the command-line tool."""

from __future__ import annotations

import logging
import sys


def log_to_file(path=None, level=logging.INFO) -> logging.Logger:
    """Send the ``ohmap`` logger (and warnings) to ``path``, or to stderr when ``path`` is None."""
    handler = logging.FileHandler(path, mode="w") if path else logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("ohmap")
    root.handlers[:] = [handler]
    root.setLevel(level)
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").handlers[:] = [handler]
    return root
