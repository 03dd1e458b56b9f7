"""Model bundles: one tar file that carries models to a machine kept offline, and proves on
arrival that every byte is what left the connected machine.

A bundle holds ``manifest.json`` and the model files, in the forms the engines load
(``whisper/NAME.pt``, ``whisper/NAME-ct2/...``, ``argos/NAME.argosmodel``). The manifest lists
each file's SHA-256 and size, and for each model its source repository, revision, licence and
languages. Adding checks every file before anything is installed, installs all models or none,
and records the manifest's SHA-256 in the custody log, so a transcript's model can be traced
to the bundle it came in.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tarfile
import zipfile
from datetime import datetime, timezone
from pathlib import Path, PurePosixPath

from .. import translate
from ..config import Settings
from ..hashing import sha256_file
from ..store import Store
from .argos import zip_package
from .common import ModelError, argos_dir, read_json, staging, whisper_dir, write_json
from .embedded import EMBEDDED_CT2_SHA256, EMBEDDED_NAME, assemble_embedded_ct2, embedded_checkpoint
from .registry import model_info, prepare_ct2

FORMAT = "testimony-model-bundle"
VERSION = 1
MANIFEST = "manifest.json"
_MODEL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CARRY_HINT = (
    "run `testimony models fetch NAME... --out BUNDLE.tar` on a connected machine, carry the file "
    "over, and run `testimony models add BUNDLE.tar` here"
)


def is_bundle_path(path: Path) -> bool:
    return path.suffix == ".tar"


# Writing ----------------------------------------------------------------------------------


def whisper_entry(settings: Settings, name: str) -> tuple[dict, dict[str, Path]]:
    """(manifest entry, bundle path -> file) of an installed Whisper model, both forms."""
    folder = whisper_dir(settings)
    if name == EMBEDDED_NAME:
        embedded_checkpoint(settings)
        assemble_embedded_ct2(folder / "base-ct2")
    elif not (folder / f"{name}.pt").is_file():
        raise ModelError(
            f"no Whisper model named {name!r} is installed; `testimony models list` shows them"
        )
    else:
        prepare_ct2(settings, name)
    record = model_info(settings, name) or {}
    files = {f"whisper/{name}.pt": folder / f"{name}.pt"}
    for file in sorted((folder / f"{name}-ct2").iterdir()):
        if file.is_file():
            files[f"whisper/{name}-ct2/{file.name}"] = file
    entry = {
        "name": name,
        "kind": "whisper",
        "repo": record.get("repo") or record.get("source"),
        "revision": record.get("revision"),
        "licence": record.get("licence"),
        "languages": record.get("languages") or [],
        "record": record,
    }
    return entry, files


def argos_entry(settings: Settings, name: str, scratch: Path) -> tuple[dict, dict[str, Path]]:
    """An installed Argos package, zipped back into the ``.argosmodel`` it was installed from."""
    package = argos_dir(settings) / name
    if not (package / "metadata.json").is_file():
        raise ModelError(
            f"no model or translation package named {name!r} is installed; "
            f"`testimony models list` shows them"
        )
    archive = zip_package(package, scratch / f"{name}.argosmodel")
    record = read_json(argos_dir(settings) / f"{name}.json")
    metadata = read_json(package / "metadata.json")
    languages = [
        c if isinstance(c, str) else c.get("code") for c in metadata.get("languages") or []
    ]
    entry = {
        "name": name,
        "kind": "argos",
        "repo": record.get("repo"),
        "revision": record.get("revision"),
        "licence": record.get("licence"),
        "languages": languages or [metadata.get("from_code")],
        "record": record,
    }
    return entry, {f"argos/{name}.argosmodel": archive}


def write_bundle(entries: list[tuple[dict, dict[str, Path]]], out: Path) -> str:
    """Write the tar (manifest first, then the files) atomically; returns the manifest's SHA-256."""
    models, members = [], {}
    for entry, files in entries:
        entry = {**entry, "files": sorted(files)}
        models.append(entry)
        members.update(files)
    manifest = {
        "format": FORMAT,
        "version": VERSION,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "models": models,
        "files": {
            path: {"sha256": sha256_file(file), "size": file.stat().st_size}
            for path, file in sorted(members.items())
        },
    }
    raw = json.dumps(manifest, indent=2, ensure_ascii=False).encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".part")  # a bundle is there whole or not at all
    try:
        with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
            info = tarfile.TarInfo(MANIFEST)
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))
            for path, file in sorted(members.items()):
                tar.add(file, arcname=path, recursive=False)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    return hashlib.sha256(raw).hexdigest()


def bundle_installed(settings: Settings, names: list[str], out: Path) -> dict:
    """``testimony models bundle``: pack installed models (Whisper or Argos) into one bundle."""
    with staging(settings.models, "bundle") as scratch:
        entries = [
            whisper_entry(settings, name)
            if name == EMBEDDED_NAME or (whisper_dir(settings) / f"{name}.pt").is_file()
            else argos_entry(settings, name, scratch)
            for name in names
        ]
        digest = write_bundle(entries, out)
    return {"out": str(out), "manifest_sha256": digest, "models": [e["name"] for e, _ in entries]}


# Reading and checking ---------------------------------------------------------------------


def _safe_member(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return (
        bool(parts)
        and not name.startswith("/")
        and ".." not in parts
        and parts[0] in ("whisper", "argos")
    )


def unpack_checked(bundle: Path, into: Path) -> tuple[dict, str]:
    """Extract ``bundle`` under ``into``, checking every file against the manifest.

    Returns (manifest, its SHA-256). Refuses, naming the file, a bundle that is not a tar, has
    no manifest, holds a file the manifest does not list or lacks one it lists, or whose file
    differs from its recorded size or SHA-256 (altered, or cut short in the copy)."""
    what = bundle.name
    try:
        tar = tarfile.open(bundle, "r:")
    except (tarfile.TarError, OSError) as exc:
        raise ModelError(
            f"{what} is not a model bundle ({exc}); make one with `testimony models fetch` "
            f"or `testimony models bundle`"
        ) from None
    manifest, digest, seen = None, None, set()
    try:
        with tar:
            for member in tar:
                if member.name == MANIFEST and manifest is None:
                    raw = tar.extractfile(member).read()
                    digest = hashlib.sha256(raw).hexdigest()
                    try:
                        manifest = json.loads(raw)
                    except ValueError:
                        raise ModelError(f"{what}: its {MANIFEST} is not valid JSON") from None
                    _check_manifest(manifest, what)
                    continue
                if manifest is None:
                    raise ModelError(
                        f"{what} is not a model bundle: it does not start with {MANIFEST}"
                    )
                expected = manifest["files"].get(member.name)
                if expected is None or not member.isfile() or not _safe_member(member.name):
                    raise ModelError(
                        f"{what}: {member.name} is not listed in its manifest; the bundle was altered"
                    )
                target = into / member.name
                target.parent.mkdir(parents=True, exist_ok=True)
                sha, size = hashlib.sha256(), 0
                with tar.extractfile(member) as src, open(target, "wb") as dst:
                    while block := src.read(1 << 20):
                        sha.update(block)
                        size += len(block)
                        dst.write(block)
                if size != expected["size"]:
                    raise ModelError(
                        f"{what}: {member.name} is {size} bytes, the manifest says {expected['size']}; "
                        f"the bundle is truncated or altered. Copy it again"
                    )
                if sha.hexdigest() != expected["sha256"]:
                    raise ModelError(
                        f"{what}: {member.name} does not match its SHA-256 in the manifest; the "
                        f"bundle was altered or damaged. Nothing was installed"
                    )
                seen.add(member.name)
    except tarfile.TarError as exc:
        raise ModelError(
            f"{what} is truncated or damaged ({exc}); copy it again. Nothing was installed"
        ) from None
    if manifest is None:
        raise ModelError(f"{what} is not a model bundle: it has no {MANIFEST}")
    missing = sorted(set(manifest["files"]) - seen)
    if missing:
        raise ModelError(
            f"{what}: {missing[0]} is listed in the manifest but missing from the bundle "
            f"({len(missing)} file(s)); the bundle is truncated. Copy it again"
        )
    return manifest, digest


def _check_manifest(manifest, what: str) -> None:
    """The manifest's shape, and that each model names only files it lists, under a safe name."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise ModelError(f"{what} is not a model bundle ({MANIFEST} is not a {FORMAT} manifest)")
    files, entries = manifest.get("files"), manifest.get("models")
    if (
        manifest.get("version") != VERSION
        or not isinstance(files, dict)
        or not isinstance(entries, list)
        or not all(
            isinstance(v, dict)
            and isinstance(v.get("sha256"), str)
            and isinstance(v.get("size"), int)
            for v in files.values()
        )
    ):
        raise ModelError(f"{what}: its {MANIFEST} is damaged or of a version this tool cannot read")
    for entry in entries:
        name = entry.get("name") if isinstance(entry, dict) else None
        if (
            not isinstance(name, str)
            or not _MODEL_NAME.fullmatch(name)
            or entry.get("kind") not in ("whisper", "argos")
        ):
            raise ModelError(
                f"{what}: its {MANIFEST} names a model {name!r} that cannot be installed"
            )
        needed = (
            [f"whisper/{name}.pt", f"whisper/{name}-ct2/model.bin"]
            if entry["kind"] == "whisper"
            else [f"argos/{name}.argosmodel"]
        )
        unlisted = [path for path in needed + list(entry.get("files") or []) if path not in files]
        if unlisted:
            raise ModelError(
                f"{what}: model {name} needs {unlisted[0]}, which its {MANIFEST} does not list"
            )


# Installing -------------------------------------------------------------------------------


def _whisper_plan(
    settings: Settings, entry: dict, unpacked: Path, replace: bool
) -> list[tuple[Path, Path]]:
    name = entry["name"]
    folder = whisper_dir(settings)
    pt = unpacked / "whisper" / f"{name}.pt"
    ct2 = unpacked / "whisper" / f"{name}-ct2"
    if name == EMBEDDED_NAME and sha256_file(ct2 / "model.bin") != EMBEDDED_CT2_SHA256:
        raise ModelError(
            f"the bundle's {name!r} is not the embedded Whisper base; it cannot be installed as {name}"
        )
    existing = model_info(settings, name) or {}
    if existing.get("sha256") == sha256_file(pt):
        return []  # the same model is installed already
    if (folder / f"{name}.pt").exists() and not replace and name != EMBEDDED_NAME:
        raise ModelError(
            f"a different Whisper model named {name!r} is installed already; add the bundle with "
            f"--replace to replace it"
        )
    return [(ct2, folder / f"{name}-ct2"), (pt, folder / f"{name}.pt")]


def _argos_plan(
    settings: Settings, entry: dict, unpacked: Path, replace: bool
) -> list[tuple[Path, Path]]:
    name = entry["name"]
    installed = argos_dir(settings) / name
    record = read_json(argos_dir(settings) / f"{name}.json")
    archive = unpacked / "argos" / f"{name}.argosmodel"
    try:
        with zipfile.ZipFile(archive) as zf:
            top = {PurePosixPath(n).parts[0] for n in zf.namelist() if n.strip("/")}
    except zipfile.BadZipFile:
        top = set()
    if top != {name}:
        raise ModelError(
            f"the bundle's argos/{name}.argosmodel is not an Argos package with one folder {name}/"
        )
    if installed.exists() and record.get("sha256") == sha256_file(archive):
        return []
    if installed.exists() and not replace:
        raise ModelError(
            f"a different translation package named {name!r} is installed already; add the bundle "
            f"with --replace to replace it"
        )
    return [(archive, installed)]


def add_bundle(settings: Settings, bundle: Path, replace: bool = False) -> dict:
    """``testimony models add BUNDLE.tar``: check everything, then install every model or none."""
    with staging(settings.models, "bundle") as unpacked:
        manifest, digest = unpack_checked(bundle, unpacked)
        plans = [
            (
                entry,
                (_whisper_plan if entry["kind"] == "whisper" else _argos_plan)(
                    settings, entry, unpacked, replace
                ),
            )
            for entry in manifest["models"]
        ]
        # What --replace replaces is set aside in the scratch folder (gone with it on success) and
        # put back if any model fails: all or nothing, the old models included.
        targets = [
            path for entry, moves in plans if moves for path in _targets(settings, entry, moves)
        ]
        displaced = _set_aside(targets, unpacked / ".replaced")
        done: list[Path] = []
        try:
            for entry, moves in plans:
                if moves:
                    done.extend(_install(settings, entry, moves, digest))
        except BaseException:
            for path in done:
                _remove(path)
            for original, aside in displaced:
                os.rename(aside, original)
            raise
    store = Store(settings.database)  # the custody log: which bundle brought which models
    try:
        store.event(
            "models_added",
            sha256=digest,
            bundle=str(bundle),
            models={e["name"]: e.get("revision") for e in manifest["models"]},
        )
    finally:
        store.close()
    return {
        "manifest_sha256": digest,
        "models": manifest["models"],
        "installed": [e["name"] for e, moves in plans if moves],
    }


def _targets(settings: Settings, entry: dict, moves: list[tuple[Path, Path]]) -> list[Path]:
    folder = whisper_dir(settings) if entry["kind"] == "whisper" else argos_dir(settings)
    return [dst for _, dst in moves] + [folder / f"{entry['name']}.json"]


def _set_aside(paths: list[Path], aside: Path) -> list[tuple[Path, Path]]:
    aside.mkdir()
    moved = []
    for i, path in enumerate(paths):
        if path.exists():
            os.rename(path, aside / str(i))
            moved.append((path, aside / str(i)))
    return moved


def _install(
    settings: Settings, entry: dict, moves: list[tuple[Path, Path]], digest: str
) -> list[Path]:
    """Move one checked model into place (its old files are set aside already); returns every
    path it created, for undoing."""
    record = {
        **(entry.get("record") or {}),
        "name": entry["name"],
        "bundle_sha256": digest,
        "added": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    created: list[Path] = []
    whisper_dir(settings).mkdir(exist_ok=True)
    argos_dir(settings).mkdir(exist_ok=True)
    if entry["kind"] == "whisper":
        for src, dst in moves:
            os.rename(src, dst)
            created.append(dst)
        ct2, pt = (dst for _, dst in moves)
        info = whisper_dir(settings) / f"{entry['name']}.json"
        write_json(
            info,
            {**record, "sha256": sha256_file(pt), "ct2_sha256": sha256_file(ct2 / "model.bin")},
        )
    else:
        [(archive, installed)] = moves
        created.append(installed)
        translate.install_package(settings, archive)
        info = argos_dir(settings) / f"{entry['name']}.json"
        write_json(info, {**record, "sha256": sha256_file(archive)})
    return created + [info]


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()
