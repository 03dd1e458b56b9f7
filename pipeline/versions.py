"""Numbered versions of an interview's transcript, kept when it is transcribed again.

Before a new machine transcript replaces the old one, the old one's files are copied into
``versions/N/`` beside it (N = 1, 2, ...): ``transcript.json``, ``provenance.json`` (model,
SHA-256 and options), its subtitles (``transcript.LANG.srt``/``.vtt``: the new transcript's
publication removes those it does not replace, so the outbox holds only current subtitles), and
the reviewer's ``reviewed.json`` and ``review.txt`` as they were.
``version.json`` there says which model made it and when it was kept, with each file's SHA-256.
Nothing in ``versions/`` is ever rewritten or removed by this tool.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import transcript as tr
from .models import sha256_file
from .store import now

FOLDER = "versions"
PROVENANCE = "provenance.json"
KEPT = (tr.MACHINE_FILE, PROVENANCE, tr.REVIEWED_FILE, "review.txt")
SUBTITLE_SUFFIXES = (".srt", ".vtt")


@dataclass
class Made:
    """Which model and options made a machine transcript (from its provenance.json)."""

    engine: str | None = None
    name: str | None = None
    sha256: str | None = None
    options: dict = field(default_factory=dict)
    finished_at: str | None = None

    @property
    def label(self) -> str:
        digest = f" ({self.sha256[:12]})" if self.sha256 else ""
        return f"{self.name or '?'}{digest}"


@dataclass
class Version:
    number: int
    made: Made
    kept_at: str
    files: dict[str, str]  # name -> SHA-256


def made_by(out_dir: Path) -> Made:
    """The model and options of the current machine transcript in ``out_dir``."""
    try:
        data = json.loads((out_dir / PROVENANCE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return Made()
    model = data.get("model") or {}
    return Made(
        model.get("engine"),
        model.get("name"),
        model.get("sha256"),
        data.get("options") or {},
        data.get("finished_at"),
    )


def listing(out_dir: Path) -> list[Version]:
    """The kept versions, oldest first."""
    found = []
    for path in sorted((out_dir / FOLDER).glob("*/version.json"), key=lambda p: int(p.parent.name)):
        data = json.loads(path.read_text(encoding="utf-8"))
        found.append(Version(data["number"], Made(**data["made"]), data["kept_at"], data["files"]))
    return found


def current_number(out_dir: Path) -> int:
    """The version number of the current machine transcript (1 for a first transcription)."""
    return len(listing(out_dir)) + 1


def subtitles(out_dir: Path) -> list[str]:
    """The names of the machine transcript's subtitle files in ``out_dir``."""
    return sorted(p.name for p in out_dir.glob("transcript.*") if p.suffix in SUBTITLE_SUFFIXES)


def keep(out_dir: Path) -> Version | None:
    """Copy the current machine transcript (and a review of it) into the next numbered folder."""
    if not (out_dir / tr.MACHINE_FILE).exists():
        return None
    number = current_number(out_dir)
    folder = out_dir / FOLDER / str(number)
    staging = out_dir / FOLDER / f".{number}.staging"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    files = {}
    for name in (*KEPT, *subtitles(out_dir)):
        if (out_dir / name).exists():
            shutil.copy2(out_dir / name, staging / name)
            files[name] = sha256_file(staging / name)
    version = Version(number, made_by(out_dir), now(), files)
    tr.write_atomic(
        staging / "version.json", json.dumps(asdict(version), ensure_ascii=False, indent=2) + "\n"
    )
    staging.replace(folder)  # whole or not at all
    return version


def subtitles_of(version: Version) -> tuple[str, ...]:
    """The subtitle files kept in ``version`` (none in a version kept before subtitles were)."""
    return tuple(name for name in version.files if name.endswith(SUBTITLE_SUFFIXES))
