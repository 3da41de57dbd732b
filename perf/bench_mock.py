"""Benchmark: cost of simulating one mock galaxy against stamp size and ray-tracing supersampling.

Prints seconds per galaxy (all six PA-grism spectra, stamps and truth) and ratios to the
smallest setting, measured in one run so that machine noise mostly cancels.

    python perf/bench_mock.py [galaxy_id]
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from mock_helpers import simulate  # noqa: E402


def main(galaxy_id: str = "04054") -> None:
    settings = [(64, 2), (64, 3), (96, 2), (96, 3), (128, 3)]
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        simulate(galaxy_id, Path(tmp) / "warm", stamp_pixels=48, supersample=1)
        for size, ss in settings:
            best = float("inf")
            for repeat in range(2):
                start = time.perf_counter()
                simulate(
                    galaxy_id,
                    Path(tmp) / f"{size}_{ss}_{repeat}",
                    stamp_pixels=size,
                    supersample=ss,
                )
                best = min(best, time.perf_counter() - start)
            timings[(size, ss)] = best
    base = timings[settings[0]]
    print(f"mock galaxy {galaxy_id}: seconds per galaxy (best of 2), ratio to {settings[0]}")
    print(f"{'stamp':>6} {'supersample':>11} {'seconds':>8} {'ratio':>6}")
    for (size, ss), seconds in timings.items():
        print(f"{size:>6} {ss:>11} {seconds:>8.2f} {seconds / base:>6.2f}")


if __name__ == "__main__":
    main(*sys.argv[1:])
