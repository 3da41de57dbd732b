"""No writer may leave a half-written file under its final name.

A workflow can be killed at any moment (SIGKILL from a scheduler, a pulled plug), so every output
is written to a temporary name in the destination folder and renamed into place with
``os.replace`` only when complete (:mod:`ohmap.io.atomic`). Two kinds of test:

* a static check over ``src/ohmap`` and ``workflow/scripts``: every direct file-writing call
  (``savefig``, ``writeto``, astropy ``Table.write``, ``write_text``/``write_bytes``,
  ``h5py.File(..., "w")``, ``open(..., "w")``, ``np.save*``, ``to_csv``) must write to a name
  bound by ``with atomic_path(...) as tmp`` (or to one made by a ``*_temporary*`` helper that
  renames it itself); anything else -- ``snakemake.output...``, a ``path`` parameter, a loop
  variable, a literal -- is reported with file and line;
* behavioural checks: a write that fails (or is SIGKILLed) midway leaves nothing under the
  final name and, when it fails with an exception, no temporary file either.
"""

from __future__ import annotations

import ast
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.figure  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
from astropy.io import fits  # noqa: E402
from astropy.table import Table  # noqa: E402

from ohmap.io.atomic import (
    atomic_path,
    save_figure,
    write_fits_atomic,
    write_table_atomic,
    write_text_atomic,
)
from ohmap.report import sample as sample_plots  # noqa: E402
from ohmap.report.inference import plot_corner  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
CHECKED = [REPO / "src" / "ohmap", REPO / "workflow" / "scripts"]

# ---------------------------------------------------------------------------------------------
# static check
# ---------------------------------------------------------------------------------------------

_PATH_WRAPPERS = {"Path", "PurePath", "str", "fspath"}
_WRITE_MODES = ("w", "a", "x", "+")
_NUMPY_SAVERS = {"save", "savetxt", "savez", "savez_compressed"}


def _call_name(call: ast.Call) -> str | None:
    func = call.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _arg(call: ast.Call, index: int, *names: str):
    if len(call.args) > index:
        return call.args[index]
    for kw in call.keywords:
        if kw.arg in names:
            return kw.value
    return None


def _mentions_snakemake_output(node) -> bool:
    return any(
        isinstance(n, ast.Attribute)
        and n.attr == "output"
        and isinstance(n.value, ast.Name)
        and n.value.id == "snakemake"
        for n in ast.walk(node)
    )


def _write_target(call: ast.Call):
    """``(kind, target expression)`` when ``call`` writes a file, else None."""
    name = _call_name(call)
    if name == "savefig":
        return name, _arg(call, 0, "fname")
    if name == "writeto":
        return name, _arg(call, 0, "name", "fileobj")
    if name == "write" and isinstance(call.func, ast.Attribute):
        target = _arg(call, 0, "output")
        # astropy Table.write (a file handle's write takes neither keyword)
        if target is not None and (
            any(kw.arg in ("format", "overwrite") for kw in call.keywords)
            or _mentions_snakemake_output(target)
        ):
            return "Table.write", target
        return None
    if name in ("write_text", "write_bytes") and isinstance(call.func, ast.Attribute):
        return name, call.func.value
    if name in ("to_csv", "to_parquet", "to_hdf"):
        return name, _arg(call, 0, "path_or_buf", "path")
    if (
        name in _NUMPY_SAVERS
        and isinstance(call.func, ast.Attribute)
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id in ("np", "numpy")
    ):
        return f"np.{name}", _arg(call, 0, "file", "fname")
    if name in ("File", "open"):
        is_h5 = (
            name == "File"
            and isinstance(call.func, ast.Attribute)
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id == "h5py"
        )
        is_open = name == "open" and isinstance(call.func, ast.Name)
        if not (is_h5 or is_open):
            return None
        mode = _arg(call, 1, "mode")
        default = "r"
        mode = (
            mode.value
            if isinstance(mode, ast.Constant) and isinstance(mode.value, str)
            else default
        )
        if mode is None or not any(c in mode for c in _WRITE_MODES):
            return None
        return ("h5py.File" if is_h5 else "open"), _arg(call, 0, "name", "file")
    return None


def _scope_nodes(scope):
    """The nodes of one scope, not descending into nested functions."""
    todo = list(ast.iter_child_nodes(scope))
    while todo:
        node = todo.pop()
        yield node
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            todo.extend(ast.iter_child_nodes(node))


def _safe_names(scope) -> set[str]:
    """Names bound in ``scope`` to a temporary path: ``with atomic_path(...) as tmp`` or
    ``tmp = _temporary(...)`` (a helper that is itself responsible for the rename)."""
    safe = set()
    for node in _scope_nodes(scope):
        if isinstance(node, (ast.With, ast.AsyncWith)):
            for item in node.items:
                if (
                    isinstance(item.context_expr, ast.Call)
                    and _call_name(item.context_expr) == "atomic_path"
                    and isinstance(item.optional_vars, ast.Name)
                ):
                    safe.add(item.optional_vars.id)
        elif (
            isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Call)
            and "temporary" in (_call_name(node.value) or "")
        ):
            safe.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return safe


class _Checker(ast.NodeVisitor):
    def __init__(self, label: str):
        self.label = label
        self.stack: list[set[str]] = []
        self.problems: list[str] = []

    def _scope(self, node):
        self.stack.append(_safe_names(node))
        self.generic_visit(node)
        self.stack.pop()

    visit_Module = visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _scope

    def _is_temporary(self, target) -> bool:
        while (
            isinstance(target, ast.Call)
            and _call_name(target) in _PATH_WRAPPERS
            and len(target.args) == 1
        ):
            target = target.args[0]
        return isinstance(target, ast.Name) and any(target.id in s for s in self.stack)

    def visit_Call(self, node):
        found = _write_target(node)
        if found is not None:
            kind, target = found
            if target is None or not self._is_temporary(target):
                shown = ast.unparse(target) if target is not None else "?"
                self.problems.append(f"{self.label}:{node.lineno}: {kind} writes {shown} directly")
        self.generic_visit(node)


def non_atomic_writes(source: str, label: str = "<string>") -> list[str]:
    checker = _Checker(label)
    checker.visit(ast.parse(source, filename=label))
    return checker.problems


def _checked_files():
    for folder in CHECKED:
        yield from sorted(folder.rglob("*.py"))


def test_static_every_writer_goes_through_a_temporary_name():
    files = list(_checked_files())
    assert len(files) > 40, "the static check found too few files to check"
    problems = []
    for path in files:
        problems += non_atomic_writes(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    assert not problems, (
        "writes that can leave a half-written file under its final name; use ohmap.io.atomic "
        "(save_figure, write_fits_atomic, write_table_atomic, write_text_atomic or atomic_path):\n"
        + "\n".join(problems)
    )


BAD = {
    "script table": "Table(rows=r).write(snakemake.output.truth_row, overwrite=True)",
    "script text": "Path(snakemake.output.sample_sheet).write_text(text)",
    "script index": "table.write(snakemake.output[0])",
    "figure param": "def f(fig, path):\n    fig.savefig(path, dpi=110)",
    "figure loop": "def f(fig, paths):\n    for path in paths:\n        fig.savefig(path)",
    "fits param": "def f(hdul, out):\n    hdul.writeto(out, overwrite=True)",
    "fits function": "fits.writeto(snakemake.output.map, data)",
    "table param": "def f(table, path):\n    table.write(path, format='fits', overwrite=True)",
    "hdf5": "def f(path):\n    with h5py.File(path, 'w') as h5:\n        pass",
    "open": "def f(path):\n    with open(path, mode='w') as fh:\n        fh.write('x')",
    "numpy": "def f(path, a):\n    np.save(path, a)",
    "hand-made temporary": "def f(h, path):\n    tmp = path.with_name(path.name + '.part')\n    h.writeto(tmp)",
    "other scope": (
        "def f(path):\n    with atomic_path(path) as tmp:\n        pass\n"
        "def g(fig, tmp):\n    fig.savefig(tmp)"
    ),
}
GOOD = {
    "atomic figure": "def f(fig, path):\n    with atomic_path(path) as tmp:\n        fig.savefig(tmp)",
    "atomic table": "with atomic_path(snakemake.output.t) as tmp:\n    t.write(tmp, format='ascii.ecsv')",
    "atomic text": "with atomic_path(p) as tmp:\n    tmp.write_text('x')",
    "atomic hdf5": "def f(p):\n    with atomic_path(p) as tmp, h5py.File(tmp, 'w') as h5:\n        pass",
    "read": "def f(path):\n    with open(path) as fh, h5py.File(path, 'r') as h5:\n        return fh.read()",
    "file handle": "def f(fh, line):\n    fh.write(line)",
    "helper": "write_table_atomic(t, snakemake.output[0], format='ascii.ecsv')",
    "own temporary": "def f(t, path):\n    tmp = _temporary(path)\n    t.write(Path(tmp), format='ascii.csv')",
}


@pytest.mark.parametrize("name", sorted(BAD))
def test_static_check_catches(name):
    assert non_atomic_writes(BAD[name]), f"{name!r} was not caught"


@pytest.mark.parametrize("name", sorted(GOOD))
def test_static_check_allows(name):
    assert non_atomic_writes(GOOD[name]) == []


def test_static_check_names_file_and_line():
    (problem,) = non_atomic_writes(
        "x = 1\n\nTable().write(snakemake.output.a, overwrite=True)\n", "s.py"
    )
    assert problem.startswith("s.py:3: Table.write writes snakemake.output.a")


# ---------------------------------------------------------------------------------------------
# behavioural checks
# ---------------------------------------------------------------------------------------------


class Boom(RuntimeError):
    pass


def _only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _half_then_raise(target):
    """Write a truncated file to ``target`` (path or file object) and fail, like a writer that
    runs out of disk or hits bad data midway."""
    if hasattr(target, "write"):
        target.write(b"\x89PNG\r\n\x1a\n half")
    else:
        Path(target).write_bytes(b"SIMPLE  =                    T half")
    raise Boom("failed midway")


def test_atomic_path_temporary_keeps_the_suffix(tmp_path):
    with atomic_path(tmp_path / "sub" / "map.fits") as tmp:
        assert tmp.parent == tmp_path / "sub" and tmp.suffix == ".fits" and ".part" in tmp.name
        tmp.write_text("x")
        assert not (tmp_path / "sub" / "map.fits").exists()
    assert _only(tmp_path / "sub") == ["map.fits"]


@pytest.mark.parametrize("suffix,magic", [(".png", b"\x89PNG"), (".pdf", b"%PDF")])
def test_save_figure_format_from_final_suffix(tmp_path, suffix, magic):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / f"fig{suffix}", dpi=50)
    plt.close(fig)
    assert path.read_bytes().startswith(magic)
    assert _only(tmp_path) == [f"fig{suffix}"]


def test_save_figure_failure_leaves_nothing(tmp_path, monkeypatch):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    seen = []

    def failing(self, fname, **kwargs):
        seen.append(Path(fname))
        _half_then_raise(fname)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", failing)
    with pytest.raises(Boom):
        save_figure(fig, tmp_path / "fig.png", dpi=50)
    plt.close(fig)
    assert seen and seen[0] != tmp_path / "fig.png", "savefig was given the final name"
    assert _only(tmp_path) == []


def test_plot_functions_failure_leaves_nothing(tmp_path, monkeypatch):
    """The library's figure writers (ohmap.report, ohmap.report.sample) go through save_figure."""

    def failing(self, fname, **kwargs):
        _half_then_raise(fname)

    monkeypatch.setattr(matplotlib.figure.Figure, "savefig", failing)
    rng = np.random.default_rng(1)
    samples = {"oh12": rng.normal(8.5, 0.1, 400), "av": rng.normal(0.5, 0.2, 400)}
    with pytest.raises(Boom):
        plot_corner(samples, ["12+log(O/H)", "A_V"], tmp_path / "corner.png")
    fig, _ = plt.subplots()
    with pytest.raises(Boom):
        sample_plots._save(fig, tmp_path / "mzr")
    plt.close("all")
    assert _only(tmp_path) == []


def _hdul():
    return fits.HDUList(
        [fits.PrimaryHDU(np.arange(12.0).reshape(3, 4)), fits.ImageHDU(np.ones((2, 2)), name="ERR")]
    )


@pytest.mark.parametrize("existing", [False, True])
def test_fits_failure_leaves_nothing(tmp_path, monkeypatch, existing):
    path = tmp_path / "map.fits"
    if existing:
        write_fits_atomic(_hdul(), path)
        before = path.read_bytes()
    real = fits.HDUList.writeto

    def failing(self, fileobj, **kwargs):
        real(self, fileobj, **kwargs)  # a complete file under the temporary name ...
        with open(fileobj, "r+b") as fh:  # ... cut short, and the writer fails
            fh.truncate(100)
        raise Boom("failed midway")

    monkeypatch.setattr(fits.HDUList, "writeto", failing)
    with pytest.raises(Boom):
        write_fits_atomic(_hdul(), path)
    if existing:
        assert _only(tmp_path) == ["map.fits"] and path.read_bytes() == before
    else:
        assert _only(tmp_path) == []


def test_fits_unserialisable_leaves_nothing(tmp_path):
    """An HDU whose data fail to serialise after part of the file is written."""

    class Unwritable(fits.PrimaryHDU):
        def _writedata(self, fileobj):
            fileobj.write(b"\0" * 2880)
            raise Boom("cannot serialise")

    with pytest.raises(Boom):
        write_fits_atomic(Unwritable(np.zeros((4, 4))), tmp_path / "bad.fits")
    assert _only(tmp_path) == []


def test_table_and_text_failure_leave_nothing(tmp_path, monkeypatch):
    table = Table({"a": [1, 2], "b": [3.0, 4.0]})
    write_table_atomic(table, tmp_path / "t.ecsv", format="ascii.ecsv")
    assert Table.read(tmp_path / "t.ecsv", format="ascii.ecsv")["b"][1] == 4.0
    write_text_atomic("a\tb\n", tmp_path / "s.tsv")
    assert (tmp_path / "s.tsv").read_text() == "a\tb\n"
    assert _only(tmp_path) == ["s.tsv", "t.ecsv"]

    def failing(self, target, **kwargs):
        _half_then_raise(target)

    monkeypatch.setattr(Table, "write", failing)
    with pytest.raises(Boom):
        write_table_atomic(table, tmp_path / "new.ecsv", format="ascii.ecsv")
    monkeypatch.setattr(Path, "write_text", lambda self, *a, **k: _half_then_raise(self))
    with pytest.raises(Boom):
        write_text_atomic("x", tmp_path / "new.tsv")
    assert _only(tmp_path) == ["s.tsv", "t.ecsv"]


def test_sigkill_midway_leaves_no_final_file(tmp_path):
    """A process killed (SIGKILL) while saving a figure leaves at most a ``.part`` file."""
    code = textwrap.dedent(f"""
        import os, signal
        from pathlib import Path
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.figure
        import matplotlib.pyplot as plt
        from ohmap.io.atomic import save_figure

        def killed(self, fname, **kwargs):
            Path(fname).write_bytes(b"\\x89PNG half")
            os.kill(os.getpid(), signal.SIGKILL)

        matplotlib.figure.Figure.savefig = killed
        fig, ax = plt.subplots()
        save_figure(fig, Path({str(tmp_path)!r}) / "fig.png")
    """)
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1")
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=120)
    assert result.returncode == -signal.SIGKILL, result.stderr.decode()
    assert not (tmp_path / "fig.png").exists()
    assert all(".part" in name for name in _only(tmp_path))
