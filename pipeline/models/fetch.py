"""``testimony models fetch``: on a connected machine, download models pinned to a revision and
convert them into every form the engines load, so the offline machine needs nothing heavy.

Whisper repositories come through ``huggingface_hub`` and are converted by ``install`` (the
``.pt`` for openai-whisper and the CTranslate2 folder for faster-whisper); NLLB-200 is converted
with CTranslate2's own converter (``transformers``, the optional ``fetch`` extra) into a
multilingual Argos package; Argos packages come from the Argos index (its URL is
argostranslate's ``ARGOS_PACKAGE_INDEX`` setting). Everything lands in one bundle.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import zipfile
from dataclasses import replace
from pathlib import Path

from .. import config
from ..config import Settings
from .argos import zip_package
from .bundle import CARRY_HINT, whisper_entry, write_bundle
from .catalog import KNOWN, Known, is_repo_id, local_name
from .common import ModelError, staging, whisper_dir, write_json
from .huggingface import HF_WEIGHTS
from .install import add_model, parse_languages
from .registry import model_info

NLLB_TARGET = "eng_Latn"
WHISPER_FILES = (
    "config.json",
    "generation_config.json",
    "preprocessor_config.json",
    "tokenizer.json",
)
NLLB_FILES = (
    "config.json",
    "generation_config.json",
    "sentencepiece.bpe.model",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def offline_error(where: str) -> ModelError:
    return ModelError(
        f"cannot reach {where}: this machine seems offline. To carry models over, {CARRY_HINT}"
    )


def resolve_names(names: list[str], languages: str | None) -> list[Known]:
    """Known names, or Hugging Face repository IDs of Whisper fine-tunes; refuses any other name."""
    wanted = []
    for name in names:
        codes = tuple(parse_languages(languages)) if languages else None
        if name in KNOWN:
            wanted.append(replace(KNOWN[name], languages=codes) if codes else KNOWN[name])
        elif is_repo_id(name):
            wanted.append(Known(local_name(name), "whisper", name, "", codes or ()))
        else:
            raise ModelError(
                f"{name!r} is not a model this tool knows ({', '.join(KNOWN)}) nor a Hugging Face "
                f"repository ID (OWNER/NAME, e.g. a Whisper fine-tune with --languages kk)"
            )
    return wanted


def fetch(
    settings: Settings, names: list[str], out: Path, languages: str | None = None, say=print
) -> dict:
    """Download, convert and bundle ``names`` into ``out``; returns what the bundle holds."""
    wanted = resolve_names(names, languages)
    endpoint = os.environ.get("HF_ENDPOINT") or None
    with staging(settings.models, "fetch") as scratch:
        work = config.load(scratch / "home")
        entries = []
        for known in wanted:
            say(f"fetching {known.name} ({known.repo})")
            if known.kind == "argos":
                entries.append(_argos(known, scratch))
                continue
            source, provenance = _download(known, scratch / "download" / known.name, endpoint)
            if known.kind == "nllb":
                entries.append(_nllb(known, source, provenance, scratch))
            else:
                entries.append(_whisper(work, known, source, provenance))
        digest = write_bundle(entries, out)
    return {"out": str(out), "manifest_sha256": digest, "models": [entry for entry, _ in entries]}


# Hugging Face ------------------------------------------------------------------------------


def _download(known: Known, target: Path, endpoint: str | None) -> tuple[Path, dict]:
    """Snapshot of the files an engine needs, all from one commit; (folder, provenance)."""
    try:
        import httpx2  # huggingface_hub's HTTP client: its connection errors mean "offline"
        from huggingface_hub import HfApi, snapshot_download
        from huggingface_hub.errors import (
            HfHubHTTPError,
            LocalEntryNotFoundError,
            OfflineModeIsEnabled,
            RepositoryNotFoundError,
            RevisionNotFoundError,
        )
    except ImportError:
        raise ModelError(
            "fetching needs the fetch extra: pip install 'testimony-pipeline[fetch]'"
        ) from None

    where = f"the Hugging Face hub ({endpoint or 'huggingface.co'})"
    try:
        info = HfApi(endpoint=endpoint).model_info(known.repo, revision=known.revision)
        files = [s.rfilename for s in info.siblings or []]
        wanted = _pick_files(known, files)
        snapshot_download(
            known.repo,
            revision=info.sha,
            allow_patterns=wanted,
            local_dir=target,
            cache_dir=target.parent / ".cache",
            endpoint=endpoint,
        )
    except RepositoryNotFoundError:
        raise ModelError(
            f"{known.repo}: no such model repository on {where}; check the name"
        ) from None
    except RevisionNotFoundError:
        raise ModelError(f"{known.repo}: revision {known.revision} not found on {where}") from None
    except (httpx2.TransportError, LocalEntryNotFoundError, OfflineModeIsEnabled):
        raise offline_error(where) from None
    except HfHubHTTPError as exc:
        raise ModelError(f"{known.repo}: {where} answered {exc}") from None
    card = info.card_data.to_dict() if info.card_data else {}
    licence = (
        known.licence
        or card.get("license")
        or next(
            (t.split(":", 1)[1] for t in info.tags or [] if t.startswith("license:")), "unknown"
        )
    )
    return target, {
        "repo": known.repo,
        "revision": info.sha,
        "licence": licence,
        "source": f"huggingface:{known.repo}@{info.sha}",
    }


def _pick_files(known: Known, files: list[str]) -> list[str]:
    """The files to fetch: config, tokenizer and one set of weights (safetensors preferred)."""
    names = set(files)
    for weights in HF_WEIGHTS:
        if weights in names:
            picked = [weights]
            if weights.endswith(".index.json"):
                stem = weights.split(".")[0]  # model or pytorch_model: its shards
                picked += [f for f in files if f.startswith(stem + "-") and "-of-" in f]
            break
    else:
        raise ModelError(
            f"{known.repo}: no PyTorch weights (model.safetensors or pytorch_model.bin) in the "
            f"repository"
        )
    extra = NLLB_FILES if known.kind == "nllb" else WHISPER_FILES
    if "config.json" not in names:
        raise ModelError(f"{known.repo}: no config.json; not a model in the Hugging Face format")
    return picked + [f for f in extra if f in names]


def _whisper(work: Settings, known: Known, source: Path, provenance: dict):
    """Convert a Hugging Face Whisper folder for both engines (``models add`` does it) and
    record where it came from."""
    info = add_model(work, source, name=known.name, languages=list(known.languages) or None)
    if info.get("kind") != "whisper":
        raise ModelError(f"{known.repo} is not a Whisper model")
    record = {k: v for k, v in (model_info(work, known.name) or {}).items() if k != "source"}
    write_json(whisper_dir(work) / f"{known.name}.json", {**record, **provenance})
    return whisper_entry(work, known.name)


# NLLB-200 as a multilingual Argos package --------------------------------------------------


def _nllb(known: Known, source: Path, provenance: dict, scratch: Path):
    """CTranslate2's converter (int8) plus NLLB's SentencePiece model, packaged the way
    argostranslate installs it, with the source languages and the English target token."""
    import ctranslate2

    if (
        importlib.util.find_spec("transformers") is None
    ):  # CTranslate2's converter reads the model with it
        raise ModelError(
            "converting NLLB needs the fetch extra: pip install 'testimony-pipeline[fetch]'"
        )
    root = scratch / "nllb" / known.name
    root.mkdir(parents=True)
    try:
        ctranslate2.converters.TransformersConverter(str(source)).convert(
            str(root / "model"), quantization="int8"
        )
    except Exception as exc:
        raise ModelError(f"{known.repo}: CTranslate2 could not convert it: {exc}") from None
    shutil.copyfile(source / "sentencepiece.bpe.model", root / "sentencepiece.model")
    languages = list(known.languages)
    (root / "metadata.json").write_text(
        json.dumps(
            {
                "package_version": provenance["revision"][:12],
                "argos_version": "1.9",
                "from_code": languages[0],
                "from_name": languages[0],
                "to_code": "en",
                "to_name": "English",
                "languages": languages,
                "target_prefix": NLLB_TARGET,
                "source": provenance["source"],
                "license": provenance["licence"],
            },
            indent=2,
        )
    )
    archive = zip_package(root, scratch / f"{known.name}.argosmodel")
    entry = {
        "name": known.name,
        "kind": "argos",
        **{k: provenance[k] for k in ("repo", "revision", "licence")},
        "languages": languages,
        "record": {**provenance, "languages": languages},
    }
    return entry, {f"argos/{known.name}.argosmodel": archive}


# Argos index --------------------------------------------------------------------------------


def _argos(known: Known, scratch: Path):
    """The newest package for the pair from the Argos index, downloaded by argostranslate."""
    import argostranslate.package as package
    import argostranslate.settings as argos_settings

    index = os.environ.get("ARGOS_PACKAGE_INDEX")
    url = index.rstrip("/") + "/index.json" if index else argos_settings.remote_package_index
    saved = (
        argos_settings.remote_package_index,
        argos_settings.local_package_index,
        argos_settings.downloads_dir,
    )
    argos_settings.remote_package_index = url
    argos_settings.local_package_index = scratch / "argos-index.json"
    argos_settings.downloads_dir = scratch
    try:
        package.update_package_index()  # logs and returns on failure: the index file tells
        if not argos_settings.local_package_index.exists():
            raise offline_error(f"the Argos package index ({url})")
        source, target = known.repo.split("-")
        found = [
            p
            for p in package.get_available_packages()
            if p.from_code == source and p.to_code == target
        ]
        if not found:
            raise ModelError(f"the Argos index at {url} has no {source}->{target} package")
        best = max(
            found,
            key=lambda p: [int(x) if x.isdigit() else 0 for x in str(p.package_version).split(".")],
        )
        try:
            path = best.download()
        except Exception:
            raise offline_error(f"the Argos package server ({', '.join(best.links)})") from None
    finally:
        (
            argos_settings.remote_package_index,
            argos_settings.local_package_index,
            argos_settings.downloads_dir,
        ) = saved
    with zipfile.ZipFile(path) as zf:
        top = {Path(n).parts[0] for n in zf.namelist() if n.strip("/")}
    if len(top) != 1:
        raise ModelError(
            f"{path.name} from the Argos index is not an Argos package (one top folder)"
        )
    name = top.pop()
    provenance = {
        "repo": f"argos:{known.repo}",
        "revision": str(best.package_version),
        "licence": known.licence,
        "source": best.links[0] if best.links else url,
    }
    entry = {
        "name": name,
        "kind": "argos",
        **{k: provenance[k] for k in ("repo", "revision", "licence")},
        "languages": list(known.languages),
        "record": {**provenance, "languages": list(known.languages)},
    }
    return entry, {f"argos/{name}.argosmodel": path}
