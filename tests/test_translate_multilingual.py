"""Multilingual Argos packages (an NLLB-200 model as CTranslate2's converter packages it):
one package serves kk, ky and ru, with the source language token and the target prefix."""

import pytest

from pipeline import translate

from builders import tiny_argos_package

NLLB = ["kaz_Cyrl", "kir_Cyrl", "rus_Cyrl"]


@pytest.fixture(scope="module")
def argos_multi(tmp_path_factory):
    return tiny_argos_package(
        tmp_path_factory.mktemp("argos-multi"),
        "kk",
        "en",
        languages=["kk", "ky", "ru"],
        target_prefix="eng_Latn",
        source_tokens=NLLB,
    )


def test_one_package_translates_each_language_with_its_own_token(home, argos_multi, cli):
    assert cli("models", "add", argos_multi).exit_code == 0
    assert "kk,ky,ru -> en" in cli("models", "list").output
    translator = translate.Translator(home)
    assert all(translator.available(lang) for lang in ("kk", "ky", "ru"))

    english = translator.translate("Менің ағам қалада тұрады. Оны түнде алып кетті.", "kk")
    assert isinstance(english, str) and "eng_Latn" not in english
    pkg, model = translator._loaded["kk"]
    seen = []

    class Recording:  # the real CTranslate2 translator, with its inputs kept for the assertions
        def translate_batch(self, batch, **kw):
            seen.append((batch, kw))
            return model.translate_batch(batch, **kw)

    for lang in ("kk", "ky", "ru"):
        translator._loaded[lang] = (pkg, Recording())
        translator.translate("где ваш сын сейчас", lang)
    assert [batch[0][0] for batch, _ in seen] == NLLB
    assert all(
        batch[0][-1] == "</s>" and kw["target_prefix"] == [["eng_Latn"]] for batch, kw in seen
    )


def test_language_tokens_from_codes_or_objects():
    class Pkg:
        languages = ["kk", {"code": "ky", "name": "Kyrgyz", "token": "kir_Cyrl"}, {"code": "ru"}]

    assert translate._language_tokens(Pkg()) == {
        "kk": "kaz_Cyrl",
        "ky": "kir_Cyrl",
        "ru": "rus_Cyrl",
    }
