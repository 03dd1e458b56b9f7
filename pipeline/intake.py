"""Intake: from a dropped file to a hashed, read-only original in the evidence store and a job.

Rules that keep testimony safe: a file still being copied is not touched; the original is
hashed while it is copied into the evidence store and never written again; a file that is not
an interview is left where it is with the reason beside it; the same recording dropped twice
is recognised by its hash and processed once.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import logging
import os
import re
import stat
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

from .config import LANGUAGES, MEDIA_EXTENSIONS, PROTECTIONS, Settings, WatchFolder
from .store import Job, Store

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

log = logging.getLogger(__name__)

SIDECAR_EXTENSIONS = (".toml", ".json")
SIDECAR_KEYS = {
    "case_id",
    "language",
    "interviewee",
    "recorded_on",
    "notes",
    "names",
    "speakers",
    "protect",
}
TEMPORARY_SUFFIXES = (".part", ".crdownload", ".tmp", ".partial", ".download", ".opdownload")
REJECTED_SUFFIX = ".REJECTED.txt"


class IntakeError(ValueError):
    """A dropped file or its sidecar cannot be taken in; the message says what to do."""


@dataclass
class Intake:
    """What intake did with one file."""

    job: Job
    duplicate: bool


def printable(path: Path | str) -> str:
    """A path as text that can always be logged and stored, even if its bytes are not UTF-8."""
    return os.fsencode(str(path)).decode("utf-8", "replace")


def is_temporary(path: Path) -> bool:
    """Names that browsers, Office and copy tools use while a file is still being written."""
    name = path.name
    return (
        name.startswith((".", "~$"))
        or name.lower().endswith(TEMPORARY_SUFFIXES)
        or name.endswith(REJECTED_SUFFIX)
    )


def is_media(path: Path) -> bool:
    return path.suffix.lower() in MEDIA_EXTENSIONS


def is_sidecar(path: Path) -> bool:
    return path.suffix.lower() in SIDECAR_EXTENSIONS


def sidecar_for(media: Path) -> Path | None:
    """``interview.mp4.toml``, ``interview.toml`` (or ``.json``) beside the recording."""
    for candidate in (
        *(media.with_name(media.name + ext) for ext in SIDECAR_EXTENSIONS),
        *(media.with_suffix(ext) for ext in SIDECAR_EXTENSIONS),
    ):
        if candidate.is_file():
            return candidate
    return None


def read_sidecar(path: Path, settings: Settings) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text) if path.suffix.lower() == ".toml" else json.loads(text)
    except (UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise IntakeError(
            f"sidecar {printable(path.name)} is not valid {path.suffix[1:].upper()}: {exc}. "
            f"Fix it; the recording waits until then."
        ) from None
    if not isinstance(data, dict):
        raise IntakeError(
            f"sidecar {printable(path.name)} must hold a table of keys such as case_id"
        )
    unknown = set(data) - SIDECAR_KEYS
    if unknown:
        raise IntakeError(
            f"sidecar {printable(path.name)} has unknown keys {sorted(unknown)}; "
            f"known keys are {sorted(SIDECAR_KEYS)}"
        )
    case_id = data.get("case_id")
    if case_id is not None and not (isinstance(case_id, str) and settings.case_id_ok(case_id)):
        raise IntakeError(
            f"sidecar {printable(path.name)}: case_id {case_id!r} does not match the case ID "
            f"pattern {settings.case_id_pattern!r}"
        )
    language = data.get("language")
    if language is not None and language not in LANGUAGES:
        raise IntakeError(
            f"sidecar {printable(path.name)}: language {language!r} is not one of {', '.join(LANGUAGES)}"
        )
    names = data.get("names")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        raise IntakeError(f"sidecar {printable(path.name)}: names must be a list of strings")
    count = data.get("speakers")
    if count is not None and (isinstance(count, bool) or not isinstance(count, int) or count < 1):
        raise IntakeError(
            f"sidecar {printable(path.name)}: speakers must be the number of people speaking, e.g. 2"
        )
    protect = data.get("protect")
    if protect is not None and not (
        isinstance(protect, list) and all(p in PROTECTIONS for p in protect)
    ):
        raise IntakeError(
            f"sidecar {printable(path.name)}: protect must be a list of "
            f"{', '.join(map(repr, PROTECTIONS))}, "
            f'e.g. protect = ["voice", "faces"]'
        )
    return {k: (str(v) if k in ("recorded_on",) else v) for k, v in data.items()}


def case_from_path(path: Path, folder: WatchFolder | None, settings: Settings) -> str | None:
    """Case ID from a folder ``<CASE-ID>/`` under the watched folder, else a ``<CASE-ID>_`` prefix."""
    candidates: list[str] = []
    if folder is not None:
        try:
            parts = path.parent.relative_to(folder.path).parts
        except ValueError:
            parts = ()
        candidates.extend(reversed(parts))
    else:
        candidates.append(path.parent.name)
    if "_" in path.stem:
        candidates.append(path.stem.split("_", 1)[0])
    for candidate in candidates:
        for option in (
            candidate,
            f"{folder.case_prefix}{candidate}" if folder and folder.case_prefix else None,
        ):
            if option and settings.case_id_ok(option):
                return option
    return None


def interview_id_for(path: Path, case_id: str | None, sha256: str) -> str:
    """A readable, stable name: the file name without its case prefix, plus the hash's start."""
    stem = path.stem
    if case_id and stem.startswith(case_id + "_"):
        stem = stem[len(case_id) + 1 :]
    slug = re.sub(r"[^\w-]+", "-", stem, flags=re.UNICODE).strip("-_").lower()[:48] or "interview"
    return f"{slug}-{sha256[:8]}"


def _copy_hashing(source: Path, target: Path) -> tuple[str, int]:
    """Copy ``source`` to ``target`` (a temp name) while hashing; fsync before returning."""
    digest = hashlib.sha256()
    size = 0
    with open(source, "rb") as src, open(target, "xb") as dst:
        while block := src.read(1 << 20):
            digest.update(block)
            dst.write(block)
            size += len(block)
        dst.flush()
        os.fsync(dst.fileno())
    return digest.hexdigest(), size


def _make_read_only(path: Path) -> None:
    path.chmod(stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH)


def store_original(settings: Settings, source: Path) -> tuple[str, Path, int]:
    """Copy ``source`` into the evidence store, read-only, named by its SHA-256.

    Returns (sha256, stored path, size). If the same bytes are already stored, the stored
    copy is kept as it is and the new copy discarded.
    """
    settings.evidence.mkdir(parents=True, exist_ok=True)
    tmp = settings.evidence / f".incoming-{os.getpid()}-{threading.get_ident()}"
    tmp.unlink(missing_ok=True)
    try:
        sha256, size = _copy_hashing(source, tmp)
    except FileNotFoundError:
        tmp.unlink(missing_ok=True)
        raise IntakeError(
            f"{printable(source)} disappeared while it was being taken in; drop it again"
        ) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if size == 0:
        tmp.unlink()
        raise IntakeError(
            f"{printable(source.name)} is empty (0 bytes): the copy probably failed. Copy it again."
        )
    folder = settings.evidence / sha256[:2] / sha256
    target = folder / _safe_name(printable(source.name))
    if target.exists():
        tmp.unlink()
    else:
        folder.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, target)
        _make_read_only(target)
    return sha256, target, size


def _safe_name(name: str, limit: int = 200) -> str:
    """The original's name for the evidence store: no separators, short enough for any filesystem."""
    name = re.sub(r"[/\\\0]", "_", name) or "original"
    stem, suffix = os.path.splitext(name)
    while len((stem + suffix).encode("utf-8")) > limit:
        stem = stem[:-1]
    return stem + suffix


def take(
    settings: Settings,
    store: Store,
    source: Path,
    *,
    folder: WatchFolder | None = None,
    case_id: str | None = None,
    language: str | None = None,
    move: bool = False,
) -> Intake:
    """Take one recording in: evidence store, sidecar, case ID, job.

    ``move`` (the watcher) removes the dropped file once its hashed copy is safe;
    otherwise (``testimony process``) the user's file is left where it is.
    """
    if not is_media(source):
        raise IntakeError(
            f"{printable(source.name)}: not a recording this tool takes "
            f"({', '.join(sorted(MEDIA_EXTENSIONS))})"
        )
    if case_id is not None and not settings.case_id_ok(case_id):
        raise IntakeError(
            f"case ID {case_id!r} does not match the pattern {settings.case_id_pattern!r}"
        )
    if language is not None and language not in LANGUAGES:
        raise IntakeError(f"language {language!r} is not one of {', '.join(LANGUAGES)}")
    sidecar_path = sidecar_for(source)
    meta = read_sidecar(sidecar_path, settings) if sidecar_path else {}

    sha256, stored, size = store_original(settings, source)
    existing = store.job_by_sha(sha256)
    if existing is not None:
        store.event(
            "duplicate", sha256=sha256, interview_id=existing.interview_id, path=printable(source)
        )
        log.info("duplicate of %s: %s", existing.interview_id, printable(source))
        if move:
            _remove_dropped(source, sidecar_path)
        return Intake(existing, duplicate=True)

    if sidecar_path:
        sidecar_copy = stored.parent / ("sidecar" + sidecar_path.suffix.lower())
        if not sidecar_copy.exists():
            sidecar_copy.write_bytes(sidecar_path.read_bytes())
            _make_read_only(sidecar_copy)
    case = case_id or meta.get("case_id") or case_from_path(source, folder, settings)
    lang = language or meta.get("language") or (folder.language if folder else None)
    interview_id = interview_id_for(source, case, sha256)
    store.add_original(sha256, size, stored, printable(source.name))
    job = store.add_job(interview_id, sha256, printable(source), case, lang, meta)
    store.event(
        "intake",
        sha256=sha256,
        interview_id=interview_id,
        path=printable(source),
        size=size,
        evidence=str(stored),
        case_id=case,
        host=os.uname().nodename,
        user=getpass.getuser(),
    )
    log.info("intake %s -> %s (%s)", printable(source), interview_id, job.state)
    if move:
        _remove_dropped(source, sidecar_path)
    return Intake(job, duplicate=False)


def _remove_dropped(source: Path, sidecar: Path | None) -> None:
    """Remove a dropped file from a watched folder once its hashed copy is in the store."""
    source.unlink(missing_ok=True)
    if sidecar is not None:
        sidecar.unlink(missing_ok=True)


class Settler:
    """Says when a file has stopped changing, so half-copied files are left alone.

    A file is ready once its size and modification time have been the same for
    ``settle_seconds`` of observation.
    """

    def __init__(self, settle_seconds: float):
        self.settle_seconds = settle_seconds
        self._seen: dict[Path, tuple[int, float, float]] = {}

    def ready(self, path: Path, size: int, mtime: float, now: float) -> bool:
        previous = self._seen.get(path)
        if previous is None or previous[:2] != (size, mtime):
            self._seen[path] = (size, mtime, now)
            return False
        return now - previous[2] >= self.settle_seconds

    def forget(self, path: Path) -> None:
        self._seen.pop(path, None)


def scan(folder: WatchFolder):
    """Every regular file under a watched folder (subfolders too) that is not a temporary name."""
    if not folder.path.is_dir():
        return
    for root, dirs, files in os.walk(folder.path):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(root) / name
            if not is_temporary(path):
                yield path


def reject(store: Store, path: Path, reason: str, mtime: float | None = None) -> None:
    """Leave a file in place with its reason written beside it; remember not to re-read it.

    ``mtime`` is the change stamp to remember (the newer of the file and its sidecar), so
    that fixing either one makes the watcher look again.
    """
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    note = path.with_name(path.name + REJECTED_SUFFIX)
    note.write_text(
        f"{printable(path.name)} was not taken in and has been left here untouched.\n\n{reason}\n",
        encoding="utf-8",
    )
    store.reject(Path(printable(path)), st.st_size, st.st_mtime if mtime is None else mtime, reason)
    store.event("rejected", path=printable(path), reason=reason)
    log.warning("left in place: %s (%s)", printable(path), reason)
