"""argostranslate through its real installer and CTranslate2, on a package built in the test."""

import json

import pytest

from pipeline import translate


def test_models_add_installs_an_argos_package(home, cli, argos_ru):
    result = cli("models", "add", argos_ru)
    assert result.exit_code == 0, result.output
    assert (home.models / "argos" / "translate-ru_en" / "metadata.json").exists()
    listing = cli("models", "list").output
    assert "translate-ru_en" in listing and "ru -> en" in listing and "tiny" in listing


def test_translation_is_offline_and_per_language(home, argos_ru, monkeypatch):
    import urllib.request

    def no_network(*a, **k):
        raise AssertionError("translation tried to use the network")

    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    translate.install_package(home, argos_ru)
    translator = translate.Translator(home)
    assert translator.available("ru") and not translator.available("kk")
    english = translator.translate("Мой брат живёт в городе. Где ваш сын?", "ru")
    assert isinstance(english, str) and english
    with pytest.raises(translate.TranslationError, match="testimony models add"):
        translator.translate("менің ағам", "kk")


def test_not_a_package_is_refused(home, tmp_path):
    bogus = tmp_path / "x.argosmodel"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(translate.TranslationError, match="not a usable Argos package"):
        translate.install_package(home, bogus)


def test_missing_translation_is_filled_in_later(home, cli, argos_ru, speech_video):
    result = cli("process", speech_video, "--case", "KZ-7", "--language", "ru")
    assert result.exit_code == 0, result.output
    assert "testimony models add FILE.argosmodel" in result.output
    [out] = (home.outbox / "KZ-7").iterdir()
    data = json.loads((out / "transcript.json").read_text())
    assert data["translation"]["status"] == "missing" and data["segments"]
    assert all(
        s["english"] is None and "translation missing" in s["flags"] for s in data["segments"]
    )
    assert not (out / "transcript.en.srt").exists()

    assert cli("models", "add", argos_ru).exit_code == 0
    result = cli("translate", "--pending")
    assert result.exit_code == 0 and "translation done" in result.output
    data = json.loads((out / "transcript.json").read_text())
    assert data["translation"]["status"] == "done"
    assert all(
        s["english"] is not None and "translation missing" not in s["flags"]
        for s in data["segments"]
    )
    assert (out / "transcript.en.srt").exists() and (out / "transcript.en.vtt").exists()
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["translation"]["packages"] == {"ru": "translate-ru_en"}
