"""testimony.toml: a value of the wrong kind is named in one line, never a traceback."""

import pytest
from typer.testing import CliRunner

from pipeline import config
from pipeline.cli import app


@pytest.mark.parametrize(
    "text",
    [
        '[asr]\nthreads = "many"',
        "[intake]\nsettle_seconds = [1]",
        "[jobs]\nmax_attempts = {}",
        'asr = "fast"',
    ],
)
def test_a_value_of_the_wrong_kind_is_a_settings_error(tmp_path, text):
    (tmp_path / config.SETTINGS_FILE).write_text(text + "\n", encoding="utf-8")
    with pytest.raises(config.SettingsError, match="not of the kind its key takes"):
        config.load(tmp_path)


def test_the_command_says_which_file_and_stops(tmp_path, monkeypatch):
    (tmp_path / config.SETTINGS_FILE).write_text('[asr]\nthreads = "many"\n', encoding="utf-8")
    monkeypatch.setenv("TESTIMONY_HOME", str(tmp_path))
    result = CliRunner().invoke(app, ["status"])
    assert result.exit_code == 1
    assert "testimony.toml: a value is not of the kind its key takes" in result.output
    assert "Traceback" not in result.output


def test_defaults_load_without_a_file(tmp_path):
    settings = config.load(tmp_path)
    assert settings.home == tmp_path.resolve() and settings.asr_vad and settings.threads == 0
