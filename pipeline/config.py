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

from .engines import DEFAULT_BATCH_SIZE, DEFAULT_ENGINE, ENGINES, compute

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
    temperature_fallback: bool = (
        False  # greedy: reproducible, and 4x faster on Kazakh (bench/README.md)
    )
    threads: int = 0
    asr_engine: str = DEFAULT_ENGINE
    asr_compute_type: str = compute.AUTO  # the measured best for the device (engines/compute.py)
    asr_vad: bool = True
    asr_beam_size: int = 0  # 0: the per-language default in pipeline.asr
    asr_batch_size: int = DEFAULT_BATCH_SIZE  # faster-whisper decodes this many windows at once
    language_models: tuple[
        tuple[str, str], ...
    ] = ()  # (language, model name) pairs, e.g. ky -> a fine-tune
    max_attempts: int = 3
    # audio is decoded (and, with a broker, sent out) in pieces this long
    piece_seconds: float = 600.0
    # [cluster]: with a broker URL this machine coordinates; `testimony worker`s decode (pipeline/cluster/)
    broker: str | None = None
    # A piece a worker took but never acknowledged (its machine died) goes back to the queue after this.
    visibility_timeout: float = 7200.0
    # A decoder refreshes its heartbeat every third of this; one silent this long has its piece
    # sent again at once (pipeline/cluster/heartbeat.py), long before visibility_timeout.
    heartbeat_seconds: float = 30.0
    # Interviews a coordinator keeps in flight; 0: enough to fill the workers seen (cluster/inflight.py)
    interviews_in_flight: int = 0
    speakers: bool = True  # label speaker turns (pipeline/speakers.py)
    speaker_count: int = 0  # 0: found automatically; a sidecar's ``speakers = N`` overrides it

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


@dataclass(frozen=True)
class Documented:
    """One key of testimony.toml as the settings page lists it (docs/generate.py makes the table).

    Defaults are read from the dataclass the key sets, so they are written once.
    ``tests/test_docs.py`` loads ``example`` and checks that ``field`` changes, and fails on a
    field that no entry documents.
    """

    table: str  # the TOML table: "asr", "asr.models"; "[watch]" for each [[watch]] entry
    key: str
    field: str  # the attribute it sets on Settings (or on the dataclass of its own loader)
    help: str
    example: str  # a testimony.toml that sets this key to something other than its default
    default: str | None = None  # shown instead of the field's default where that says little


SETTINGS_DOCS: tuple[Documented, ...] = (
    Documented(
        "intake",
        "case_id_pattern",
        "case_id_pattern",
        "Regular expression a case ID must match (in a folder name, a file name prefix, "
        "a sidecar or `--case`).",
        '[intake]\ncase_id_pattern = "[0-9]{4}"',
    ),
    Documented(
        "intake",
        "settle_seconds",
        "settle_seconds",
        "A file must stop changing this long before it is taken in.",
        "[intake]\nsettle_seconds = 30",
    ),
    Documented(
        "intake",
        "poll_seconds",
        "poll_seconds",
        "How often the watcher looks at its folders.",
        "[intake]\npoll_seconds = 10",
    ),
    Documented(
        "asr",
        "model",
        "whisper_model",
        "Whisper model: the embedded `base`, or one added with `testimony models add`.",
        '[asr]\nmodel = "large-v3"',
    ),
    Documented(
        "asr",
        "allow_download",
        "allow_download",
        "Let whisper fetch a named model itself (online machines only).",
        "[asr]\nallow_download = true",
    ),
    Documented(
        "asr",
        "temperature_fallback",
        "temperature_fallback",
        "Decode failing windows again at higher temperatures (whisper's own default): "
        "random, about 4x slower on Kazakh, not measurably better; off keeps decoding "
        "greedy and reproducible.",
        "[asr]\ntemperature_fallback = true",
    ),
    Documented(
        "asr", "threads", "threads", "CPU threads for decoding; 0: all cores.", "[asr]\nthreads = 2"
    ),
    Documented(
        "asr",
        "engine",
        "asr_engine",
        "`faster-whisper` (default) or `openai-whisper` (the reference): the same "
        "weights, openai-whisper about 3.4x slower on CPU here.",
        '[asr]\nengine = "openai-whisper"',
    ),
    Documented(
        "asr",
        "vad",
        "asr_vad",
        "Cut out silences of 5 s or more (Silero) instead of transcribing them, and decode "
        "again speech the decoder skipped or looped over. `false` turns all of it off.",
        "[asr]\nvad = false",
    ),
    Documented(
        "asr",
        "beam_size",
        "asr_beam_size",
        "Beam width; 0: per language (greedy for Kazakh, 5 for Russian).",
        "[asr]\nbeam_size = 5",
    ),
    Documented(
        "asr",
        "batch_size",
        "asr_batch_size",
        "faster-whisper only: decode this many windows of up to 30 s, cut at pauses, "
        "side by side, each to its end, its text cut into segments at pauses between words "
        "(greedy decoding only; audio longer than one window; faster than window after "
        "window, docs/benchmarks.md); 0: window after window, as Whisper does.",
        "[asr]\nbatch_size = 0",
    ),
    Documented(
        "asr",
        "compute_type",
        "asr_compute_type",
        "Number format the engine computes in: `auto` is the measured best for the device "
        "(int8 on a CPU, float16 on a GPU); or float32, int8, float16, ... as the engine "
        "allows.",
        '[asr]\ncompute_type = "float32"',
    ),
    Documented(
        "asr",
        "piece_seconds",
        "piece_seconds",
        "Audio is decoded, and with a broker sent to workers, in pieces about this long, "
        "cut at pauses.",
        "[asr]\npiece_seconds = 300",
    ),
    Documented(
        "asr.models",
        "kk / ky / ru",
        "language_models",
        "A model per language, installed with `testimony models add --name`; other "
        "languages use `[asr] model`.",
        '[asr.models]\nky = "kyrgyz-small"',
        default="none",
    ),
    Documented(
        "jobs",
        "max_attempts",
        "max_attempts",
        "A job that kills its worker this many times is marked failed.",
        "[jobs]\nmax_attempts = 5",
    ),
    Documented(
        "speakers",
        "enabled",
        "speakers",
        "Label speaker turns S1, S2, ... (resemblyzer voice encoder, offline).",
        "[speakers]\nenabled = false",
    ),
    Documented(
        "speakers",
        "count",
        "speaker_count",
        "Number of speakers; 0: found automatically. A sidecar's `speakers = N` "
        "overrides it for one recording.",
        "[speakers]\ncount = 2",
    ),
    Documented(
        "cluster",
        "broker",
        "broker",
        "Redis URL, with its password: this machine coordinates and `testimony worker`s "
        "decode. `TESTIMONY_BROKER` overrides it.",
        '[cluster]\nbroker = "redis://:secret@192.168.1.20:6379/0"',
        default="none: everything runs on this machine",
    ),
    Documented(
        "cluster",
        "visibility_timeout",
        "visibility_timeout",
        "The last resort: seconds before a piece that was never acknowledged goes back to "
        "the queue, where no heartbeat ever named its holder (see heartbeat_seconds).",
        "[cluster]\nvisibility_timeout = 600",
    ),
    Documented(
        "cluster",
        "heartbeat_seconds",
        "heartbeat_seconds",
        "A worker refreshes its heartbeat every third of this; a piece whose worker has been "
        "silent this long is sent again at once (`visibility_timeout` stays the last resort).",
        "[cluster]\nheartbeat_seconds = 10",
    ),
    Documented(
        "cluster",
        "interviews_in_flight",
        "interviews_in_flight",
        "Interviews a coordinator keeps in flight at once; 0 means one more than the "
        "decoding processes of the workers seen, at least 2.",
        "[cluster]\ninterviews_in_flight = 4",
    ),
    Documented(
        "[watch]",
        "path, language, case_prefix",
        "watch",
        "More watched folders (`[[watch]]`, one per folder), each with a default language "
        "and a case prefix (`0042_x.mp4` with `KG-` means case KG-0042).",
        '[[watch]]\npath = "drop"\nlanguage = "ky"\ncase_prefix = "KG-"',
        default="`inbox/` only",
    ),
)


def home_dir() -> Path:
    return Path(os.environ.get("TESTIMONY_HOME") or os.getcwd()).resolve()


def load(home: Path | None = None) -> Settings:
    """Read ``testimony.toml`` under the home folder; a missing file means all defaults."""
    home = (home or home_dir()).resolve()
    try:
        return _read(home)
    except SettingsError:
        raise
    except (TypeError, ValueError, AttributeError) as exc:  # threads = "many", asr = "fast"
        raise SettingsError(
            f"{home / SETTINGS_FILE}: a value is not of the kind its key takes "
            f"({exc}); docs/settings.md lists every key with its default"
        ) from None


def _read(home: Path) -> Settings:
    path = home / SETTINGS_FILE
    raw: dict = {}
    if path.exists():
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(
                f"{path} is not valid TOML: {exc}. Fix it or move it aside."
            ) from exc

    intake = raw.get("intake", {})
    asr = raw.get("asr", {})
    cluster = raw.get("cluster", {})
    folders = [WatchFolder(home / "inbox")]
    for entry in raw.get("watch", []):
        if "path" not in entry:
            raise SettingsError(f"{path}: every [[watch]] entry needs a path")
        language = entry.get("language")
        if language is not None and language not in LANGUAGES:
            raise SettingsError(
                f"{path}: watch folder language {language!r} is not one of {LANGUAGES}"
            )
        folders.append(
            WatchFolder(home / Path(entry["path"]).expanduser(), language, entry.get("case_prefix"))
        )

    pattern = intake.get("case_id_pattern", Settings.case_id_pattern)
    try:
        re.compile(pattern)
    except re.error as exc:
        raise SettingsError(f"{path}: case_id_pattern is not a regular expression: {exc}") from exc

    engine = str(asr.get("engine", Settings.asr_engine))
    if engine not in ENGINES:
        raise SettingsError(f"{path}: [asr] engine {engine!r} is not one of {ENGINES}")
    compute_type = str(asr.get("compute_type", Settings.asr_compute_type))
    if compute_type not in compute.allowed(engine):
        raise SettingsError(
            f"{path}: [asr] compute_type {compute_type!r} is not one {engine} has: "
            f"{', '.join(compute.allowed(engine))}"
        )
    language_models = asr.get("models", {})
    if not isinstance(language_models, dict) or not set(language_models) <= set(LANGUAGES):
        raise SettingsError(
            f"{path}: [asr.models] maps languages {LANGUAGES} to model names, "
            f'e.g. ky = "kyrgyz-small"'
        )

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
        asr_compute_type=compute_type,
        asr_vad=bool(asr.get("vad", True)),
        asr_beam_size=int(asr.get("beam_size", 0)),
        asr_batch_size=int(asr.get("batch_size", Settings.asr_batch_size)),
        language_models=tuple(sorted((k, str(v)) for k, v in language_models.items())),
        max_attempts=int(raw.get("jobs", {}).get("max_attempts", Settings.max_attempts)),
        piece_seconds=float(asr.get("piece_seconds", Settings.piece_seconds)),
        broker=os.environ.get("TESTIMONY_BROKER") or cluster.get("broker") or None,
        visibility_timeout=float(cluster.get("visibility_timeout", Settings.visibility_timeout)),
        heartbeat_seconds=_positive(
            cluster.get("heartbeat_seconds", Settings.heartbeat_seconds),
            "[cluster] heartbeat_seconds",
            path,
        ),
        interviews_in_flight=_count(
            cluster.get("interviews_in_flight", 0),
            path,
            "[cluster] interviews_in_flight",
            "a number of interviews, or 0 to fill the workers seen",
        ),
        speakers=bool(raw.get("speakers", {}).get("enabled", True)),
        speaker_count=_count(raw.get("speakers", {}).get("count", 0), path),
    )


def _count(
    value,
    path: Path,
    what: str = "[speakers] count",
    meaning: str = "a whole number of speakers, or 0 to find it",
) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise SettingsError(f"{path}: {what} must be {meaning}")
    return value


def _positive(value, what: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise SettingsError(f"{path}: {what} must be a number of seconds above 0")
    return float(value)
