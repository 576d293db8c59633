"""Configuration: environment over TOML over defaults; every mistake named (issue 17, item 5)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from oversight.config import ConfigError, load_settings


def test_environment_over_file_over_defaults(tmp_path: Path) -> None:
    (tmp_path / "oversight.toml").write_text('port = 9000\nregion = "eu-west-1"\n')
    loaded = load_settings({"OVERSIGHT_DATA_DIR": str(tmp_path), "OVERSIGHT_PORT": "9100"})
    assert (loaded.port, loaded.region, loaded.host) == (9100, "eu-west-1", "127.0.0.1")
    assert loaded.data_dir == tmp_path


@pytest.mark.parametrize(("variable", "value", "named"), [
    ("OVERSIGHT_PORT", "x", "an integer"),
    ("OVERSIGHT_PORT", "80.5", "an integer"),
    ("OVERSIGHT_VIDEO_SAMPLE_FPS", "fast", "a number"),
])
def test_a_bad_environment_value_is_named(variable: str, value: str, named: str) -> None:
    with pytest.raises(ConfigError, match=f"{variable}: '{value}' is not {named}"):
        load_settings({variable: value})


def test_a_toml_typo_is_refused_not_ignored(tmp_path: Path) -> None:
    (tmp_path / "oversight.toml").write_text("prot = 9000\n")
    with pytest.raises(ConfigError, match="unknown setting.*prot"):
        load_settings({"OVERSIGHT_DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize("line", ['port = "x"', "port = 80.5", "port = true", "host = 1"])
def test_a_toml_value_of_the_wrong_type_is_named(tmp_path: Path, line: str) -> None:
    (tmp_path / "oversight.toml").write_text(line + "\n")
    with pytest.raises(ConfigError, match=r"oversight.toml: (port|host): .* is not"):
        load_settings({"OVERSIGHT_DATA_DIR": str(tmp_path)})


def test_data_dir_is_honoured_in_a_named_file_and_refused_in_the_data_dir(tmp_path: Path) -> None:
    named = tmp_path / "elsewhere.toml"
    named.write_text(f'data_dir = "{tmp_path / "data"}"\n')
    assert load_settings({"OVERSIGHT_CONFIG": str(named)}).data_dir == tmp_path / "data"
    (tmp_path / "oversight.toml").write_text('data_dir = "/somewhere/else"\n')
    with pytest.raises(ConfigError, match="data_dir cannot be set"):
        load_settings({"OVERSIGHT_DATA_DIR": str(tmp_path)})


def test_a_named_file_must_exist(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="OVERSIGHT_CONFIG"):
        load_settings({"OVERSIGHT_CONFIG": str(tmp_path / "missing.toml")})


def test_the_command_says_what_is_wrong_without_a_traceback(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", "from oversight.cli import main; main()", "keys", "list"],
        env={**os.environ, "OVERSIGHT_PORT": "x", "OVERSIGHT_DATA_DIR": str(tmp_path)},
        capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == "oversight: configuration error: OVERSIGHT_PORT: 'x' is not an integer\n"
