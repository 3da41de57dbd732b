"""Figures of every stage. Every function writes its file atomically and closes its figure.

Matplotlib is set to its non-interactive Agg backend here, before any module of the package
imports ``matplotlib.pyplot``.
"""

import matplotlib

matplotlib.use("Agg")
