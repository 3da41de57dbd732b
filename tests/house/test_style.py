"""The code is formatted and linted: ruff for Python, snakefmt for the rules, snakemake --lint.

The versions are pinned in pyproject.toml's ``test`` extra, so the formatters give the same
answer on every machine.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PYTHON = ["src", "tests", "workflow/scripts", "perf"]
RULES = ["Snakefile", "workflow/rules"]


def _run(*cmd):
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)


def _tool(name):
    path = shutil.which(name, path=str(Path(sys.executable).parent)) or shutil.which(name)
    assert path, f"{name} is not installed: pip install -e '.[test]'"
    return path


def test_ruff_lint_is_clean():
    result = _run(_tool("ruff"), "check", *PYTHON)
    assert result.returncode == 0, result.stdout[-5000:]


def test_ruff_format_is_clean():
    result = _run(_tool("ruff"), "format", "--check", *PYTHON)
    assert result.returncode == 0, f"run `ruff format {' '.join(PYTHON)}`:\n{result.stdout[-5000:]}"


def test_snakefmt_is_clean():
    result = _run(_tool("snakefmt"), "--check", *RULES)
    assert result.returncode == 0, f"run `snakefmt {' '.join(RULES)}`:\n{result.stderr[-5000:]}"


def test_snakemake_lint_is_clean():
    result = _run(sys.executable, "-m", "snakemake", "--lint")
    assert result.returncode == 0, result.stdout[-5000:] + result.stderr[-2000:]
