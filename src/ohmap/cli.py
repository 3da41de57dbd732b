"""Command-line tool: ``ohmap validate`` checks a configuration and its sample sheet.

Later steps add subcommands (e.g. fitting users' own line fluxes).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from .config import check_samples, load_samples, validate_config
from .errors import InputError

SCHEMAS = Path("workflow") / "schemas"


def _validate(args) -> int:
    config_path = Path(args.config)
    if not config_path.is_file():
        raise InputError(config_path, "configuration file not found")
    config = yaml.safe_load(config_path.read_text())
    base = yaml.safe_load(Path(args.base).read_text()) if args.base else {}
    merged = _merge(base, config)
    schemas = Path(args.schemas)
    validate_config(merged, schemas / "config.schema.yaml", config_path)
    samples = load_samples(merged["samples"], schemas / "galaxies.schema.yaml")
    check_samples(samples, merged, merged["samples"])
    print(f"{config_path}: valid; {len(samples)} galaxies in {merged['samples']}")
    return 0


def _merge(base: dict, update: dict) -> dict:
    """Deep merge, as Snakemake lays --configfile over the Snakefile's configfile."""
    out = dict(base)
    for key, value in update.items():
        out[key] = _merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="ohmap", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    check = sub.add_parser("validate", help="validate a configuration and its sample sheet")
    check.add_argument("config", nargs="?", default="config/config.yaml")
    check.add_argument("--base", help="configuration the given one is laid over (as --configfile does)")
    check.add_argument("--schemas", default=str(SCHEMAS), help="folder with the JSON schemas")
    check.set_defaults(func=_validate)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except InputError as error:
        print(f"ohmap: bad input: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
