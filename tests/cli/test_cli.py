"""The ``ohmap`` command-line tool."""

import os

from mock_helpers import REPO
from ohmap.cli import main


def test_validate_shipped_configurations(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert main(["validate"]) == 0
    assert "14 galaxies" in capsys.readouterr().out
    assert main(["validate", "config/test/config.yaml", "--base", "config/config.yaml"]) == 0
    assert "3 galaxies" in capsys.readouterr().out


def test_validate_reports_bad_input(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    bad = tmp_path / "bad.yaml"
    bad.write_text("mock: {seed: -3}\n")
    assert main(["validate", os.fspath(bad), "--base", "config/config.yaml"]) == 2
    err = capsys.readouterr().err
    assert "bad.yaml" in err and "mock.seed" in err
