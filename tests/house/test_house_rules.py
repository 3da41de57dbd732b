"""The tree mirrors the chain: imports flow one way, no circle, no oversized room, thin scripts.

Each check runs on the real package and, first, on a small synthetic package that breaks the
rule, so that a check that could never fail would show here.
"""

from __future__ import annotations

import ast
import textwrap
from pathlib import Path

import pytest
from house_rules import LAYERS, against_the_flow, circles, imports_of, long_definitions

REPO = Path(__file__).resolve().parents[2]
SRC = REPO / "src"
SCRIPTS = REPO / "workflow" / "scripts"
MODULE_LINES = 600
FUNCTION_LINES = 150
CLASS_LINES = 200
SCRIPT_LINES = 40


def _write(root: Path, files: dict) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root


def test_every_room_has_a_layer():
    rooms = {
        p.stem if p.is_file() else p.name
        for p in (SRC / "ohmap").iterdir()
        if (p.suffix == ".py" and p.stem != "__init__") or (p / "__init__.py").exists()
    }
    assert rooms == set(LAYERS), (
        f"rooms without a layer: {rooms - set(LAYERS)}; gone: {set(LAYERS) - rooms}"
    )


def test_the_checks_catch_a_backward_import_and_a_circle(tmp_path):
    root = _write(
        tmp_path,
        {
            "ohmap/__init__.py": "",
            "ohmap/errors.py": "",
            "ohmap/linemaps/__init__.py": "",
            "ohmap/linemaps/stack.py": "from .deblend import joint\n",
            "ohmap/linemaps/deblend.py": "from ohmap.linemaps.stack import StackedMap\n",
            "ohmap/inference/__init__.py": "",
            "ohmap/inference/model.py": "from ohmap.errors import InputError\n",
            "ohmap/spectra/__init__.py": "",
            "ohmap/spectra/ingest.py": "def f():\n    from ohmap.inference import model\n",
        },
    )
    found = imports_of(root)
    backward = against_the_flow(found)
    assert (
        len(backward) == 1
        and "ohmap.spectra.ingest (layer 2) imports ohmap.inference.model" in backward[0]
    )
    assert circles(found) == [["ohmap.linemaps.deblend", "ohmap.linemaps.stack"]]


def test_imports_run_with_the_flow():
    found = imports_of(SRC)
    assert len(found) > 100  # the parser sees the package's imports
    assert against_the_flow(found) == []


def test_no_import_circle():
    assert circles(imports_of(SRC)) == []


def test_the_size_check_catches_a_long_function(tmp_path):
    body = "\n".join(f"    x{i} = {i}" for i in range(FUNCTION_LINES))
    path = _write(tmp_path, {"m.py": f"def f():\n{body}\n"}) / "m.py"
    assert long_definitions(path, FUNCTION_LINES, CLASS_LINES)


def test_no_oversized_module_function_or_class():
    modules = sorted((SRC / "ohmap").rglob("*.py"))
    too_long = [
        f"{p.relative_to(REPO)}: {n} lines"
        for p in modules
        if (n := len(p.read_text().splitlines())) > MODULE_LINES
    ]
    assert too_long == [], f"modules over {MODULE_LINES} lines"
    assert [
        line for p in modules for line in long_definitions(p, FUNCTION_LINES, CLASS_LINES)
    ] == []


@pytest.mark.parametrize("script", sorted(SCRIPTS.glob("*.py")), ids=lambda p: p.name)
def test_scripts_are_thin(script):
    """A script reads its inputs, calls ohmap, writes its outputs: no functions of its own, and
    short."""
    tree = ast.parse(script.read_text())
    defs = [n.name for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))]
    assert defs == [], f"{script.name} defines {defs}: that logic belongs in ohmap"
    assert len(script.read_text().splitlines()) <= SCRIPT_LINES
