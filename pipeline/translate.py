"""Machine translation to English with argostranslate, segment by segment, offline.

Packages live under ``models/argos`` in the home folder and are added from ``.argosmodel``
files (Argos' own index is online and has no Kazakh at all). Argos' default sentence
splitter downloads a model on first use, so it is replaced here by a plain punctuation
splitter: Whisper segments are short already.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

from .config import Settings

log = logging.getLogger(__name__)

TARGET = "en"


class TranslationError(RuntimeError):
    """A package is missing or unusable."""


def _argos(settings: Settings):
    """Import argostranslate with its package folder pointed at this home's models."""
    folder = settings.models / "argos"
    folder.mkdir(parents=True, exist_ok=True)
    os.environ["ARGOS_PACKAGES_DIR"] = str(folder)
    os.environ.setdefault("ARGOS_DEVICE_TYPE", "cpu")
    import argostranslate.package
    import argostranslate.settings

    argostranslate.settings.package_data_dir = folder
    return argostranslate.package, folder


def install_package(settings: Settings, path: Path) -> str:
    """Install an ``.argosmodel`` file with argostranslate's own installer."""
    package, folder = _argos(settings)
    try:
        package.install_from_path(path)
    except Exception as exc:
        raise TranslationError(f"{path.name} is not a usable Argos package: {exc}") from exc
    return ", ".join(f"{p['from']}->{p['to']}" for p in installed_packages(settings))


def _packages(settings: Settings) -> list:
    package, folder = _argos(settings)
    return package.get_installed_packages(path=[folder])


# NLLB-200 language tokens, for multilingual packages whose metadata lists bare codes.
NLLB_TOKENS = {
    "kk": "kaz_Cyrl",
    "ky": "kir_Cyrl",
    "ru": "rus_Cyrl",
    "en": "eng_Latn",
    "uz": "uzn_Latn",
    "ug": "uig_Arab",
    "tg": "tgk_Cyrl",
    "tr": "tur_Latn",
    "zh": "zho_Hans",
}


def _language_tokens(pkg) -> dict[str, str | None]:
    """Source code -> the token a multilingual model expects before the source (or None).

    ``languages`` in metadata.json holds codes (``"kk"``, token from the NLLB table) or
    objects (``{"code": "kk", "name": "Kazakh", "token": "kaz_Cyrl"}``). A package without
    it is a plain one-pair package that needs no source token.
    """
    tokens: dict[str, str | None] = {}
    for entry in getattr(pkg, "languages", None) or []:
        code = entry if isinstance(entry, str) else entry.get("code")
        token = None if isinstance(entry, str) else entry.get("token")
        if code:
            tokens[code] = token or NLLB_TOKENS.get(code)
    return tokens


def _sources(pkg) -> list[str]:
    return [
        c for c in dict.fromkeys([pkg.from_code, *_language_tokens(pkg)]) if c and c != pkg.to_code
    ]


def installed_packages(settings: Settings) -> list[dict]:
    return [
        {
            "name": Path(p.package_path).name,
            "kind": "argos",
            "from": ",".join(_sources(p)),
            "to": p.to_code,
            "languages": f"{','.join(_sources(p))} -> {p.to_code}",
            "source": str(p.package_path),
        }
        for p in _packages(settings)
    ]


def add_command_hint(language: str) -> str:
    return (
        f"No {language}->en translation package is installed. Add one with "
        f"`testimony models add FILE.argosmodel`, then run `testimony translate --pending`."
    )


class SentenceSplitter:
    """Splits on sentence-ending punctuation; stands in for Argos' downloading splitter."""

    _END = re.compile(r"(?<=[.!?…])\s+")

    def split_sentences(self, text: str) -> list[str]:
        return [s for s in self._END.split(text.strip()) if s] or [text]


class Translator:
    """English translation for the languages that have an installed package."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._loaded: dict[str, tuple] = {}

    def package_for(self, language: str):
        for pkg in _packages(self.settings):
            if pkg.to_code == TARGET and language in _sources(pkg):
                return pkg
        return None

    def available(self, language: str) -> bool:
        return language == TARGET or self.package_for(language) is not None

    def describe(self, language: str) -> str | None:
        pkg = self.package_for(language)
        return Path(pkg.package_path).name if pkg else None

    def translate(self, text: str, language: str) -> str:
        if language == TARGET or not text.strip():
            return text
        if language not in self._loaded:
            import ctranslate2

            pkg = self.package_for(language)
            if pkg is None:
                raise TranslationError(add_command_hint(language))
            model = ctranslate2.Translator(
                str(Path(pkg.package_path) / "model"),
                device="cpu",
                intra_threads=self.settings.threads,
            )
            self._loaded[language] = (pkg, model)
        pkg, model = self._loaded[language]
        source_token = _language_tokens(pkg).get(language)
        if source_token:
            return self._translate_multilingual(pkg, model, text, source_token)
        from argostranslate.translate import apply_packaged_translation

        hypotheses = apply_packaged_translation(
            pkg, text, model, SentenceSplitter(), num_hypotheses=1
        )
        return hypotheses[0].value.strip()

    @staticmethod
    def _translate_multilingual(pkg, model, text: str, source_token: str) -> str:
        """NLLB-style decoding: ``[lang] pieces </s>`` in, ``target_prefix`` forced first out.

        argostranslate itself forces the target prefix but never names the source language,
        which a many-to-one model needs to read Kazakh as Kazakh rather than guess."""
        sentences = SentenceSplitter().split_sentences(text)
        batch = [[source_token, *pkg.tokenizer.encode(s), "</s>"] for s in sentences]
        prefix = [[pkg.target_prefix]] * len(batch) if pkg.target_prefix else None
        results = model.translate_batch(
            batch, target_prefix=prefix, beam_size=4, max_decoding_length=256
        )
        out = []
        for result in results:
            tokens = result.hypotheses[0]
            if pkg.target_prefix and tokens[:1] == [pkg.target_prefix]:
                tokens = tokens[1:]
            out.append(pkg.tokenizer.decode(tokens).strip())
        return " ".join(out).strip()
