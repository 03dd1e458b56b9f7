"""The one data model every stage shares: an interview's transcript, and the files made of it.

``transcript.json`` is canonical and versioned (``schema_version``); subtitles are rendered
from it. Every file is written atomically (temp file, fsync, rename), so a reader or a crash
never sees half a file.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .outbox import MACHINE_FILE, REVIEWED_FILE

SCHEMA_VERSION = 1
MISSING_TRANSLATION_FLAG = "translation missing"


class TranscriptError(ValueError):
    """A transcript file does not match the schema."""


@dataclass
class Segment:
    id: int
    start: float
    end: float
    language: str
    text: str
    english: str | None = None
    avg_logprob: float | None = None
    no_speech_prob: float | None = None
    compression_ratio: float | None = None
    flags: list[str] = field(default_factory=list)
    speaker: str | None = None
    reviewed: bool = False
    withheld: bool = False
    # Each word in time, as the engine aligned it: {"start", "end", "text", "probability"}.
    # Kept only while the words spell the segment's text (see :func:`fit_words`).
    words: list[dict] = field(default_factory=list)


@dataclass
class Transcript:
    interview_id: str
    case_id: str
    language: str
    source: dict
    translation: dict
    segments: list[Segment]
    detected_languages: dict | None = None
    warnings: list[str] = field(default_factory=list)  # about the whole file, e.g. its language tag
    interview: dict = field(default_factory=dict)
    # status: unreviewed | in_progress | reviewed; reviewers: names; withheld_terms: strings
    review: dict = field(
        default_factory=lambda: {"status": "unreviewed", "reviewers": [], "withheld_terms": []}
    )
    # Which speaker model and settings produced the S1, S2... labels, and reviewers' names for them.
    speakers: dict = field(default_factory=dict)
    schema_version: int = SCHEMA_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> "Transcript":
        try:
            data = json.loads(text)
            version = data.get("schema_version")
            if version != SCHEMA_VERSION:
                raise TranscriptError(f"schema_version {version!r} is not {SCHEMA_VERSION}")
            data["segments"] = [_checked(Segment(**s)) for s in data["segments"]]
            return cls(**data)
        except (json.JSONDecodeError, TypeError, KeyError, AttributeError) as exc:
            raise TranscriptError(f"not a transcript.json of this tool: {exc}") from None

    @property
    def languages(self) -> list[str]:
        return sorted({s.language for s in self.segments} or {self.language})

    @property
    def translated(self) -> bool:
        return bool(self.segments) and all(s.english is not None for s in self.segments)


def _checked(seg: Segment) -> Segment:
    """Refuse a segment whose fields have the wrong types, naming the segment."""
    number = (int, float)
    ok = (
        isinstance(seg.id, int)
        and not isinstance(seg.id, bool)
        and isinstance(seg.start, number)
        and isinstance(seg.end, number)
        and 0 <= seg.start <= seg.end
        and isinstance(seg.language, str)
        and isinstance(seg.text, str)
        and (seg.english is None or isinstance(seg.english, str))
        and isinstance(seg.flags, list)
        and all(isinstance(f, str) for f in seg.flags)
        and isinstance(seg.words, list)
        and all(_word_ok(w) for w in seg.words)
    )
    if not ok:
        raise TranscriptError(
            f"segment {seg.id!r} has a field of the wrong type or times out of order"
        )
    return seg


def _word_ok(w) -> bool:
    return (
        isinstance(w, dict)
        and isinstance(w.get("text"), str)
        and all(isinstance(w.get(k), (int, float)) for k in ("start", "end", "probability"))
    )


# Words in time -------------------------------------------------------------------------


def _letters(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def words_spell(words: list[dict], text: str) -> bool:
    """Whether the words, read in order, are the text (ignoring case, spaces and punctuation)."""
    return bool(words) and _letters("".join(w["text"] for w in words)) == _letters(text)


def fit_words(seg: Segment) -> bool:
    """Keep the words that lie in the segment's span; drop them all unless they still spell its
    text, so a word list is never left wrong after an edit. Returns whether words were dropped."""
    inside = [
        w for w in seg.words if seg.start - 0.01 <= (w["start"] + w["end"]) / 2 <= seg.end + 0.01
    ]
    kept = inside if words_spell(inside, seg.text) else []
    dropped = len(kept) != len(seg.words)
    seg.words = kept
    return dropped


def load(path: Path) -> Transcript:
    return Transcript.from_json(path.read_text(encoding="utf-8"))


def load_current(out_dir: Path) -> Transcript:
    """The version people should see: the reviewed one when a reviewer has saved, else the machine's."""
    reviewed = out_dir / REVIEWED_FILE
    return load(reviewed if reviewed.exists() else out_dir / MACHINE_FILE)


# Subtitles ------------------------------------------------------------------------------


def timestamp(seconds: float, sep: str = ".") -> str:
    """HH:MM:SS.mmm (VTT, review file) or, with sep=',', HH:MM:SS,mmm (SRT)."""
    ms = int(round(seconds * 1000))
    h, ms = divmod(ms, 3_600_000)
    m, ms = divmod(ms, 60_000)
    s, ms = divmod(ms, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}{sep}{ms:03d}"


CUE_CHARS = 84  # two subtitle lines of 42


def new_speakers(segments: list[Segment]) -> list[str | None]:
    """Per segment, the speaker's name where another speaker starts talking (in a recording with
    two or more), else None: subtitles prefix it, "[Interviewer] ...", as newsrooms do."""
    if len({s.speaker for s in segments if s.speaker}) < 2:
        return [None] * len(segments)
    names, previous = [], None
    for seg in segments:
        names.append(seg.speaker if seg.speaker and seg.speaker != previous else None)
        previous = seg.speaker or previous
    return names


def word_cues(seg: Segment) -> list[tuple[float, float, str]]:
    """The segment as (start, end, text) cues cut at natural points by its word times: after a
    sentence end, a pause or a comma, and before a cue grows past two lines."""
    if not seg.words:
        return [(seg.start, seg.end, seg.text)]
    groups: list[list[dict]] = [[]]
    for w, nxt in zip(seg.words, seg.words[1:] + [None]):
        groups[-1].append(w)
        if nxt is None:
            break
        length = len(" ".join(x["text"] for x in groups[-1]))
        natural = (
            w["text"].endswith((".", "!", "?", "…"))
            or nxt["start"] - w["end"] >= 0.5
            or (w["text"].endswith((",", ";", ":")) and length >= CUE_CHARS / 2)
        )
        if (natural and length >= 15) or length + 1 + len(nxt["text"]) > CUE_CHARS:
            groups.append([])
    return [
        (
            seg.start if k == 0 else g[0]["start"],
            seg.end if k == len(groups) - 1 else g[-1]["end"],
            " ".join(w["text"] for w in g),
        )
        for k, g in enumerate(groups)
    ]


def _cues(segments: list[Segment], english: bool) -> list[tuple[str, float, float, str]]:
    """(cue id, start, end, text): the source text cut by word times; English one cue a segment."""
    out = []
    for seg, name in zip(segments, new_speakers(segments)):
        parts = [(seg.start, seg.end, seg.english)] if english else word_cues(seg)
        for k, (start, end, text) in enumerate(parts):
            prefix = f"[{name}] " if name and k == 0 else ""
            out.append((f"{seg.id}" if k == 0 else f"{seg.id}.{k}", start, end, f"{prefix}{text}"))
    return out


def srt(segments: list[Segment], english: bool = False) -> str:
    blocks = []
    for n, (_, start, end, text) in enumerate(_cues(segments, english), 1):
        blocks.append(f"{n}\n{timestamp(start, ',')} --> {timestamp(end, ',')}\n{text}\n")
    return "\n".join(blocks)


def vtt(segments: list[Segment], english: bool = False) -> str:
    blocks = ["WEBVTT\n"]
    for cue_id, start, end, text in _cues(segments, english):
        blocks.append(f"{cue_id}\n{timestamp(start, '.')} --> {timestamp(end, '.')}\n{text}\n")
    return "\n".join(blocks)


def rendered_files(t: Transcript) -> dict[str, str]:
    """File name -> content for everything derived from the transcript."""
    files = {
        MACHINE_FILE: t.to_json(),
        f"transcript.{t.language}.srt": srt(t.segments),
        f"transcript.{t.language}.vtt": vtt(t.segments),
    }
    if t.translated:
        files["transcript.en.srt"] = srt(t.segments, english=True)
        files["transcript.en.vtt"] = vtt(t.segments, english=True)
    return files


def withholds(out_dir: Path) -> bool:
    """Has a reviewer withheld names or whole segments of this interview (in reviewed.json)?"""
    reviewed = out_dir / REVIEWED_FILE
    if not reviewed.exists():
        return False
    t = load(reviewed)
    return bool(t.review.get("withheld_terms")) or any(s.withheld for s in t.segments)


def remove_machine_subtitles(out_dir: Path) -> list[Path]:
    """Remove the outbox's machine .srt/.vtt, which would still name people a reviewer withheld.

    They are renders of transcript.json (kept), so nothing is lost; `testimony export` makes
    redacted subtitles, through the one redaction path every export takes.
    """
    found = sorted(p for p in out_dir.glob("transcript.*") if p.suffix in (".srt", ".vtt"))
    for path in found:
        path.unlink()
    return found


# Atomic files ---------------------------------------------------------------------------


def write_atomic(path: Path, content: str | bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = content.encode("utf-8") if isinstance(content, str) else content
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
