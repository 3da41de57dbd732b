"""Build small mock data for tests (one or two galaxies, small stamps)."""

from __future__ import annotations

from pathlib import Path

import yaml

from ohmap.mock.cluster import AnalyticCluster
from ohmap.mock.galaxy import simulate_galaxy
from ohmap.mock.inputs import load_mock_inputs

REPO = Path(__file__).resolve().parents[1]


def mock_settings(**overrides) -> dict:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    settings = {k: v for k, v in config["mock"].items() if k not in ("enabled", "galaxies")}
    settings.update(
        field=config["field"],
        observations=config["observations"],
        reference_pa=config["reference_pa"],
        stamp_pixels=64,
        supersample=2,
    )
    settings.update(overrides)
    return settings


def mock_inputs():
    return load_mock_inputs(
        REPO / "resources" / "wang2017_table2.tsv",
        REPO / "resources" / "wang2017_table5.tsv",
        REPO / "resources" / "mock_macs1149.yaml",
    )


def simulate(galaxy_id: str, outdir, **overrides) -> dict:
    galaxies, cluster = mock_inputs()
    gal = next(g for g in galaxies if g.galaxy_id == galaxy_id)
    lens = AnalyticCluster(cluster["models"][gal.lens_model], cluster["z_lens"], gal.lens_model)
    return simulate_galaxy(gal, lens, mock_settings(**overrides), outdir)
