"""Configuration and sample-sheet validation: every error names the file, row and field."""

from __future__ import annotations

import copy

import pytest
import yaml

from mock_helpers import REPO
from ohmap.config import check_samples, load_samples, validate_config
from ohmap.errors import InputError

GALAXY_SCHEMA = REPO / "workflow" / "schemas" / "galaxies.schema.yaml"
CONFIG_SCHEMA = REPO / "workflow" / "schemas" / "config.schema.yaml"


@pytest.fixture()
def config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def _sheet(tmp_path, edit_row=None, edit_header=None):
    lines = (REPO / "config" / "test" / "galaxies.tsv").read_text().splitlines()
    header_index = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    header = lines[header_index].split("\t")
    if edit_header:
        header = edit_header(header)
        lines[header_index] = "\t".join(header)
    if edit_row:
        cells = dict(zip(header, lines[header_index + 2].split("\t")))
        edit_row(cells)
        lines[header_index + 2] = "\t".join(cells[h] for h in header)
    path = tmp_path / "galaxies.tsv"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_shipped_configuration_is_valid(config):
    validate_config(config, CONFIG_SCHEMA, "config/config.yaml")
    samples = load_samples(REPO / "config" / "galaxies.tsv", GALAXY_SCHEMA)
    check_samples(samples, config, "config/galaxies.tsv")
    assert list(samples.index)[:2] == ["01422", "02389"]  # ids keep their leading zeros
    assert samples.loc["04054", "nii_ha"] == pytest.approx(0.11)
    assert samples.loc["01422", "nii_ha"] is None


def test_bad_number_names_file_row_and_field(tmp_path):
    path = _sheet(tmp_path, edit_row=lambda c: c.update(redshift="one point five"))
    with pytest.raises(InputError) as err:
        load_samples(path, GALAXY_SCHEMA)
    text = str(err.value)
    assert str(path) in text and "row 2" in text and "galaxy 02806" in text and "'redshift'" in text


def test_missing_required_value(tmp_path):
    path = _sheet(tmp_path, edit_row=lambda c: c.update(spectra=""))
    with pytest.raises(InputError, match=r"row 2 .*'spectra' is a required property"):
        load_samples(path, GALAXY_SCHEMA)


def test_out_of_range_and_enum(tmp_path):
    path = _sheet(tmp_path, edit_row=lambda c: c.update(dec_deg="95"))
    with pytest.raises(InputError, match=r"field 'dec_deg'"):
        load_samples(path, GALAXY_SCHEMA)
    path = _sheet(tmp_path, edit_row=lambda c: c.update(spectra_format="axe"))
    with pytest.raises(InputError, match=r"field 'spectra_format'"):
        load_samples(path, GALAXY_SCHEMA)
    path = _sheet(tmp_path, edit_row=lambda c: c.update(observations="032/G141"))
    with pytest.raises(InputError, match=r"field 'observations'"):
        load_samples(path, GALAXY_SCHEMA)


def test_unknown_column_and_duplicate_id(tmp_path):
    path = _sheet(tmp_path, edit_header=lambda h: [("zspec" if x == "redshift" else x) for x in h])
    with pytest.raises(InputError, match="unknown column"):
        load_samples(path, GALAXY_SCHEMA)
    path = _sheet(tmp_path, edit_row=lambda c: c.update(galaxy_id="01422"))
    with pytest.raises(InputError, match="01422 appears more than once"):
        load_samples(path, GALAXY_SCHEMA)


def test_galaxy_without_lens_model(tmp_path, config):
    path = _sheet(tmp_path, edit_row=lambda c: c.update(lens_model="zitrin_ltm"))
    samples = load_samples(path, GALAXY_SCHEMA)
    with pytest.raises(
        InputError, match=r"galaxy 02806, field 'lens_model': no lens model named 'zitrin_ltm'"
    ):
        check_samples(samples, config, path)


def test_redshift_outside_grism_range(tmp_path, config):
    path = _sheet(tmp_path, edit_row=lambda c: c.update(redshift="3.9"))
    samples = load_samples(path, GALAXY_SCHEMA)
    with pytest.raises(
        InputError, match=r"galaxy 02806, field 'redshift': at z = 3.9 none of the lines"
    ):
        check_samples(samples, config, path)


def test_redshift_in_front_of_lens(tmp_path, config):
    path = _sheet(tmp_path, edit_row=lambda c: c.update(redshift="0.3"))
    samples = load_samples(path, GALAXY_SCHEMA)
    with pytest.raises(InputError, match="not behind the lens"):
        check_samples(samples, config, path)


def test_unconfigured_observation_and_bad_template(tmp_path, config):
    path = _sheet(tmp_path, edit_row=lambda c: c.update(observations="032-G141,200-G141"))
    samples = load_samples(path, GALAXY_SCHEMA)
    with pytest.raises(InputError, match="200-G141 is not among the configured"):
        check_samples(samples, config, path)
    path = _sheet(tmp_path, edit_row=lambda c: c.update(spectra="data/spec_02806.2D.fits"))
    samples = load_samples(path, GALAXY_SCHEMA)
    with pytest.raises(InputError, match=r"field 'spectra': a glass path template needs \{pa\}"):
        check_samples(samples, config, path)


@pytest.mark.parametrize(
    "edit, field",
    [
        (lambda c: c["observations"][0].update(grism="G800L"), "observations.0.grism"),
        (lambda c: c["observations"][1].update(pa="32"), "observations.1.pa"),
        (lambda c: c["mock"].update(seed=-1), "mock.seed"),
        (lambda c: c["lens"].pop("models"), "lens"),
        (lambda c: c.update(reference_pa=119), "reference_pa"),
        (lambda c: c.update(threads=8), "Additional properties"),
    ],
)
def test_bad_config_names_field(config, edit, field):
    bad = copy.deepcopy(config)
    edit(bad)
    with pytest.raises(InputError, match="config/config.yaml") as err:
        validate_config(bad, CONFIG_SCHEMA, "config/config.yaml")
    assert field in str(err.value)


def test_settings_sections_name_a_field_of_the_wrong_kind():
    from ohmap.errors import InputError
    from ohmap.inference.settings import SamplerSettings, SpaxelSettings

    with pytest.raises(
        InputError, match=r"config.yaml: field 'n_walkers' = 'abc': expected a whole number"
    ):
        SamplerSettings.from_config({"n_walkers": "abc"}, "config.yaml")
    with pytest.raises(InputError, match="field 'emcee_vectorize'"):
        SamplerSettings.from_config({"emcee_vectorize": "yes"}, "config.yaml")
    # Whole numbers written as floats are taken as the integers they are.
    assert SpaxelSettings.from_config({"bin_pixels": 2.0}).bin_pixels == 2
    assert isinstance(SpaxelSettings.from_config({"bin_pixels": 2.0}).bin_pixels, int)
