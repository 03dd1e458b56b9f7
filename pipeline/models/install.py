"""``testimony models add``: a Whisper model in any form it is published in, or an Argos package.

A Whisper model (an openai-whisper ``.pt``, a CTranslate2/faster-whisper folder, a Hugging Face
checkpoint folder) is installed under ``models/whisper`` as ``NAME.pt`` for openai-whisper,
``NAME-ct2/`` for faster-whisper, and ``NAME.json``: the SHA-256 of the source weights and of
what each engine loads, the source format, the dimensions and the languages. Everything is
built in a scratch folder beside the models and moved into place at the end, so a failed add
leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from datetime import datetime, timezone
from pathlib import Path

from ..config import Settings
from ..hashing import sha256_file
from . import argos, bundle
from .common import ModelError, read_json, staging, whisper_dir, write_json
from .ct2 import (
    CT2_FILES,
    ct2_config,
    ct2_dims,
    ct2_spec_name,
    ct2_to_openai_state,
    read_ct2,
    write_ct2,
)
from .embedded import EMBEDDED_NAME
from .huggingface import hf_dims, hf_to_openai_state, hf_weight_files, read_hf_weights
from .openai_pt import check_whisper_state, load_checkpoint, save_checkpoint, whisper_languages
from .registry import model_info
from .tokenizer import tokenizer_vocabulary, whisper_tokenizer_json

SOURCE_FORMATS = {
    "openai-whisper": "an openai-whisper .pt checkpoint",
    "ctranslate2": "a faster-whisper (CTranslate2) folder",
    "huggingface": "a Hugging Face Whisper folder",
}


def detect_format(path: Path) -> str:
    """``openai-whisper``, ``ctranslate2``, ``huggingface``, ``argos`` or ``bundle``; anything else
    is refused."""
    if path.is_file():
        if path.suffix == ".pt":
            return "openai-whisper"
        if path.suffix == ".argosmodel":
            return "argos"
        if bundle.is_bundle_path(path):
            return "bundle"
        raise ModelError(
            f"{path.name}: expected a model bundle (.tar), a Whisper .pt checkpoint, an .argosmodel "
            f"package, or a folder (faster-whisper/CTranslate2, or a Hugging Face Whisper checkpoint)"
        )
    if not path.is_dir():
        raise ModelError(f"{path}: no such file or folder")
    if (path / "model.bin").is_file():
        spec = ct2_spec_name(path / "model.bin")
        if spec != "WhisperSpec":
            raise ModelError(
                f"{path}: model.bin is {'a CTranslate2 ' + spec if spec else 'not a CTranslate2'} "
                f"model, not a Whisper one"
            )
        return "ctranslate2"
    config = path / "config.json"
    if config.is_file():
        try:
            model_type = json.loads(config.read_text(encoding="utf-8")).get("model_type")
        except (ValueError, AttributeError, UnicodeDecodeError):
            raise ModelError(f"{config}: not valid JSON") from None
        if model_type != "whisper":
            raise ModelError(
                f"{path}: config.json says model_type {model_type!r}; only Whisper models "
                f'(model_type "whisper") can be added'
            )
        return "huggingface"
    raise ModelError(
        f"{path}: neither a faster-whisper/CTranslate2 folder (model.bin, config.json, "
        f"tokenizer.json) nor a Hugging Face Whisper folder (config.json with model_type "
        f'"whisper", and model.safetensors or pytorch_model.bin)'
    )


_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _check_name(name: str) -> None:
    if not _NAME.fullmatch(name) or name.endswith("-ct2") or name.endswith(".tmp"):
        raise ModelError(
            f"{name!r} cannot name a model: use letters, digits, '.', '-' and '_' "
            f"(and not ending in -ct2); pick one with --name"
        )
    if name == EMBEDDED_NAME:
        raise ModelError(f"{name!r} is the embedded model's name; pick another with --name")


def parse_languages(languages) -> list[str]:
    from whisper.tokenizer import LANGUAGES

    from ..config import LANGUAGES as PIPELINE_LANGUAGES

    codes = [
        c.strip().lower()
        for c in (languages.split(",") if isinstance(languages, str) else languages)
    ]
    codes = [c for c in dict.fromkeys(codes) if c]
    unknown = [c for c in codes if c not in LANGUAGES and c not in PIPELINE_LANGUAGES]
    if not codes or unknown:
        raise ModelError(
            f"--languages takes language codes such as ky,kk,ru; not known: "
            f"{', '.join(unknown) or '(none given)'}"
        )
    return codes


def _model_languages(requested, generation: dict, n_vocab: int) -> tuple[list[str], str]:
    if requested:
        return parse_languages(requested), "--languages"
    lang_to_id = generation.get("lang_to_id")
    if isinstance(lang_to_id, dict) and lang_to_id:
        return [
            k.strip("<|>") for k in sorted(lang_to_id, key=lang_to_id.get)
        ], "generation_config.json"
    return whisper_languages(n_vocab), "Whisper vocabulary"


def add_model(
    settings: Settings, path: Path, name: str | None = None, languages=None, replace: bool = False
) -> dict:
    """Install a Whisper model (``.pt`` file, CTranslate2 folder or Hugging Face folder) or an
    ``.argosmodel`` package under ``models/``.

    A Whisper model becomes ``NAME.pt`` (openai-whisper) and ``NAME-ct2/`` (faster-whisper)
    plus ``NAME.json``. From a folder both are written now; from a ``.pt``, the CTranslate2
    folder is written now when faster-whisper is the configured engine, else on first use.
    ``languages`` (``"ky,kk"`` or a list) overrides the languages recorded for the model.
    """
    path = Path(path)
    source_format = detect_format(path)
    if source_format == "argos":
        return argos.add_package(settings, path)
    if source_format == "bundle":
        return {"kind": "bundle", **bundle.add_bundle(settings, path, replace=replace)}

    name = name or (path.stem if path.is_file() else path.resolve().name)
    _check_name(name)
    folder = whisper_dir(settings)
    sources = (
        hf_weight_files(path)
        if source_format == "huggingface"
        else [path / "model.bin"]
        if source_format == "ctranslate2"
        else [path]
    )
    source_sha = {p.name: sha256_file(p) for p in sources}
    existing = model_info(settings, name) or {}
    same = existing.get("source_sha256") == source_sha or (
        not existing.get("format") and list(source_sha.values()) == [existing.get("sha256")]
    )
    present = [
        p.name
        for p in (folder / f"{name}.pt", folder / f"{name}-ct2", folder / f"{name}.json")
        if p.exists()
    ]
    if present and not replace:
        if same and existing.get("format"):
            if languages:  # the same weights: only what they are for is corrected
                existing.update(languages=parse_languages(languages), languages_from="--languages")
                write_json(folder / f"{name}.json", existing)
            return {**existing, "unchanged": True}
        if not same:  # (the same weights recorded by an older version are simply installed again)
            raise ModelError(
                f"a different Whisper model named {name!r} is already installed ({', '.join(present)} "
                f"in {folder}); add this one under another name with --name, or replace it with "
                f"--replace"
            )

    generation = read_json(path / "generation_config.json") if path.is_dir() else {}
    with staging(folder, name) as stage:
        checkpoint, ct2 = stage / "model.pt", stage / "ct2"
        if source_format == "openai-whisper":
            loaded = load_checkpoint(path)
            dims = check_whisper_state(loaded["model_state_dict"], loaded["dims"], path.name)
            shutil.copyfile(path, checkpoint)
            if settings.asr_engine == "faster-whisper":
                write_ct2(loaded["model_state_dict"], dims, ct2)
            del loaded
        elif source_format == "ctranslate2":
            ct2.mkdir()
            for file in CT2_FILES:
                if (path / file).is_file():
                    shutil.copyfile(path / file, ct2 / file)
            tensors = read_ct2(ct2 / "model.bin")
            dims = ct2_dims(tensors)
            if not (ct2 / "tokenizer.json").is_file():
                (ct2 / "tokenizer.json").write_text(
                    whisper_tokenizer_json(dims["n_vocab"]), encoding="utf-8"
                )
            if not (ct2 / "config.json").is_file():
                ids = {
                    t: i
                    for i, t in enumerate(
                        tokenizer_vocabulary(
                            (ct2 / "tokenizer.json").read_text(encoding="utf-8"), dims["n_vocab"]
                        )
                    )
                }
                (ct2 / "config.json").write_text(json.dumps(ct2_config(ids, dims), indent=2))
            state = ct2_to_openai_state(tensors, keep_float16=True)
            dims = check_whisper_state(state, dims, path.name)
            save_checkpoint(state, dims, checkpoint)
            del tensors, state
        else:
            dims = hf_dims(read_json(path / "config.json"), path.name)
            state = hf_to_openai_state(read_hf_weights(sources), path.name)
            dims = check_whisper_state(state, dims, path.name)
            save_checkpoint(state, dims, checkpoint)
            tokenizer = path / "tokenizer.json"
            preprocessor = path / "preprocessor_config.json"
            write_ct2(
                state,
                dims,
                ct2,
                tokenizer.read_text(encoding="utf-8") if tokenizer.is_file() else None,
                generation,
                preprocessor_text=preprocessor.read_text(encoding="utf-8")
                if preprocessor.is_file()
                else None,
            )
            del state

        codes, languages_from = _model_languages(languages, generation, dims["n_vocab"])
        info = {
            "name": name,
            "kind": "whisper",
            "format": source_format,
            "source": str(path.resolve()),
            "source_sha256": source_sha,
            "sha256": sha256_file(checkpoint),
            "ct2_sha256": sha256_file(ct2 / "model.bin") if ct2.is_dir() else None,
            "languages": codes,
            "languages_from": languages_from,
            "dims": dims,
            "added": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        # Into place: the old model's files go first (--replace), NAME.json last.
        shutil.rmtree(folder / f"{name}-ct2", ignore_errors=True)
        if ct2.is_dir():
            os.rename(ct2, folder / f"{name}-ct2")
        os.replace(checkpoint, folder / f"{name}.pt")
        write_json(folder / f"{name}.json", info)
    return info
