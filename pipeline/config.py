"""Where everything lives, and the settings that change behaviour.

Every location (inbox, outbox, evidence store, database, models) sits under one home folder,
the current directory by default or ``TESTIMONY_HOME`` when set, so that a whole installation
can be backed up, moved or wiped as one folder. Settings come from ``testimony.toml`` in the
home folder; every key has a default that works, so the file is optional.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from .engines import DEFAULT_ENGINE, ENGINES

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

SETTINGS_FILE = "testimony.toml"
LANGUAGES = ("kk", "ky", "ru")
# What an export can do to protect a witness (pipeline/export/protect.py); a sidecar's `protect`
# names those every export of the interview must apply.
PROTECTIONS = ("names", "voice", "faces")

VIDEO_EXTENSIONS = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v", ".3gp"}
AUDIO_EXTENSIONS = {".wav", ".mp3", ".m4a", ".ogg", ".opus", ".flac"}
MEDIA_EXTENSIONS = VIDEO_EXTENSIONS | AUDIO_EXTENSIONS


class SettingsError(ValueError):
    """The settings file is unreadable or holds a value that cannot work."""


@dataclass(frozen=True)
class WatchFolder:
    """A folder the watcher takes interviews from, with defaults for what arrives there."""

    path: Path
    language: str | None = None
    case_prefix: str | None = None


@dataclass(frozen=True)
class Settings:
    home: Path
    watch: tuple[WatchFolder, ...]
    case_id_pattern: str = r"[A-Z]{2,10}-[A-Z0-9][A-Z0-9-]{0,40}"
    settle_seconds: float = 5.0
    poll_seconds: float = 2.0
    whisper_model: str = "base"
    allow_download: bool = False
    temperature_fallback: bool = False  # greedy: reproducible, and 4x faster on Kazakh (bench/README.md)
    threads: int = 0
    asr_engine: str = DEFAULT_ENGINE
    asr_vad: bool = True
    asr_beam_size: int = 0  # 0: the per-language default in pipeline.asr
    asr_batch_size: int = 0  # faster-whisper's batched decoding of this many 30 s chunks at once; 0: off
    language_models: tuple[tuple[str, str], ...] = ()  # (language, model name) pairs, e.g. ky -> a fine-tune
    max_attempts: int = 3
    piece_seconds: float = 600.0  # audio is decoded (and, with a broker, sent out) in pieces this long
    # [cluster]: with a broker URL this machine coordinates and `testimony worker`s decode (pipeline/cluster.py)
    broker: str | None = None
    # A piece a worker took but never acknowledged (its machine died) goes back to the queue after this.
    visibility_timeout: float = 7200.0
    speakers: bool = True       # label speaker turns (pipeline/speakers.py)
    speaker_count: int = 0      # 0: found automatically; a sidecar's ``speakers = N`` overrides it

    # Locations -------------------------------------------------------------------------
    @property
    def inbox(self) -> Path:
        return self.home / "inbox"

    @property
    def outbox(self) -> Path:
        return self.home / "outbox"

    @property
    def evidence(self) -> Path:
        return self.home / "evidence"

    @property
    def models(self) -> Path:
        return self.home / "models"

    @property
    def work(self) -> Path:
        """Scratch space for derived copies (audio); safe to delete when nothing runs."""
        return self.home / "work"

    @property
    def database(self) -> Path:
        return self.home / "testimony.db"

    @property
    def log_file(self) -> Path:
        return self.home / "testimony.log"

    def case_id_ok(self, case_id: str) -> bool:
        return re.fullmatch(self.case_id_pattern, case_id) is not None

    def ensure_dirs(self) -> None:
        for folder in (self.inbox, self.outbox, self.evidence, self.models, self.work):
            folder.mkdir(parents=True, exist_ok=True)
        for wf in self.watch:
            wf.path.mkdir(parents=True, exist_ok=True)


def home_dir() -> Path:
    return Path(os.environ.get("TESTIMONY_HOME") or os.getcwd()).resolve()


def load(home: Path | None = None) -> Settings:
    """Read ``testimony.toml`` under the home folder; a missing file means all defaults."""
    home = (home or home_dir()).resolve()
    path = home / SETTINGS_FILE
    raw: dict = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path} is not valid TOML: {exc}. Fix it or move it aside.") from exc

    intake = raw.get("intake", {})
    asr = raw.get("asr", {})
    cluster = raw.get("cluster", {})
    folders = [WatchFolder(home / "inbox")]
    for entry in raw.get("watch", []):
        if "path" not in entry:
            raise SettingsError(f"{path}: every [[watch]] entry needs a path")
        language = entry.get("language")
        if language is not None and language not in LANGUAGES:
            raise SettingsError(f"{path}: watch folder language {language!r} is not one of {LANGUAGES}")
        folders.append(WatchFolder(home / Path(entry["path"]).expanduser(), language, entry.get("case_prefix")))

    pattern = intake.get("case_id_pattern", Settings.case_id_pattern)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SettingsError(f"{path}: case_id_pattern is not a regular expression: {exc}") from exc

    engine = str(asr.get("engine", Settings.asr_engine))
    if engine not in ENGINES:
        raise SettingsError(f"{path}: [asr] engine {engine!r} is not one of {ENGINES}")
    language_models = asr.get("models", {})
    if not isinstance(language_models, dict) or not set(language_models) <= set(LANGUAGES):
        raise SettingsError(f"{path}: [asr.models] maps languages {LANGUAGES} to model names, "
                            f'e.g. ky = "kyrgyz-small"')

    return Settings(
        home=home,
        watch=tuple(folders),
        case_id_pattern=pattern,
        settle_seconds=float(intake.get("settle_seconds", Settings.settle_seconds)),
        poll_seconds=float(intake.get("poll_seconds", Settings.poll_seconds)),
        whisper_model=str(asr.get("model", Settings.whisper_model)),
        allow_download=bool(asr.get("allow_download", False)),
        temperature_fallback=bool(asr.get("temperature_fallback", Settings.temperature_fallback)),
        threads=int(asr.get("threads", 0)),
        asr_engine=engine,
        asr_vad=bool(asr.get("vad", True)),
        asr_beam_size=int(asr.get("beam_size", 0)),
        asr_batch_size=int(asr.get("batch_size", 0)),
        language_models=tuple(sorted((k, str(v)) for k, v in language_models.items())),
        max_attempts=int(raw.get("jobs", {}).get("max_attempts", Settings.max_attempts)),
        piece_seconds=float(asr.get("piece_seconds", Settings.piece_seconds)),
        broker=os.environ.get("TESTIMONY_BROKER") or cluster.get("broker") or None,
        visibility_timeout=float(cluster.get("visibility_timeout", Settings.visibility_timeout)),
        speakers=bool(raw.get("speakers", {}).get("enabled", True)),
        speaker_count=_count(raw.get("speakers", {}).get("count", 0), path),
    )


def _count(value, path: Path) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingsError(f"{path}: [speakers] count must be a whole number of speakers, or 0 to find it")
    return value
