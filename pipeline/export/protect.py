"""Witness protection in exports: which protections an export applies, whether it may leave
without them, and the protected sound.

- names: each withheld term is muted in the sound where a kept segment says it (redact.py);
- voice: every voice disguised by McAdams pole shifting and a pitch shift (voice.py), drawn anew
  for each export;
- faces: every face the detector finds is blurred in every frame (faces.py).

An interview whose sidecar says ``protect = [...]`` may leave as video only with at least those
protections; only an admin on the review page may export it without them (``override``).
Packets and Content Credentials name the protections applied, never their parameters.
"""

from __future__ import annotations

import logging
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..config import PROTECTIONS
from ..media import extract_audio, load_wav
from ..store import Job
from . import voice
from .documents import ExportError

log = logging.getLogger(__name__)


@dataclass
class Applied:
    """The protections an export applied to its videos, and what it says about them."""

    protections: list[str] = field(default_factory=list)
    whole_segments: list[int] = field(default_factory=list)  # muted whole: no word times
    override_by: str | None = None  # the admin who let a protected interview out without them

    @property
    def missing(self) -> list[str]:
        return [p for p in PROTECTIONS if p not in self.protections]


def parse(text: str | None) -> list[str]:
    """``voice,names,faces``, ``all`` or ``none`` as the protections, in their fixed order."""
    wanted = {w.strip().lower() for w in (text or "").split(",") if w.strip()}
    if "all" in wanted:
        return list(PROTECTIONS)
    wanted.discard("none")
    unknown = sorted(wanted - set(PROTECTIONS))
    if unknown:
        raise ExportError(
            f"unknown protection {', '.join(unknown)}: choose from "
            f"{', '.join(PROTECTIONS)}, all or none"
        )
    return [p for p in PROTECTIONS if p in wanted]


def required(job: Job) -> list[str]:
    """The protections the interview's sidecar demands of every video export."""
    return [p for p in PROTECTIONS if p in (job.meta.get("protect") or [])]


def refusal(job: Job, protect: list[str], override: bool) -> str | None:
    """Why this video export may not leave, or None; ``override`` is an admin's decision."""
    lacking = [p for p in required(job) if p not in protect]
    if not lacking or override:
        return None
    return (
        f"{job.interview_id} is marked protected (its sidecar says protect = "
        f"{required(job)}), and this export would leave without: {', '.join(lacking)}. "
        f"Export it with --protect {','.join(p for p in PROTECTIONS if p in protect + lacking)}"
        f" (only an admin on the review page may export it without them)."
    )


def protected_sound(source: Path, work: Path, spans: list[tuple[float, float]]) -> Path:
    """A 16 kHz mono WAV of ``source``'s sound with every voice disguised and ``spans`` silent."""
    wav = work / "sound.wav"
    extract_audio(source, wav)
    audio = voice.disguise(load_wav(wav), voice.random_disguise())
    for start, end in spans:
        audio[int(start * voice.SAMPLE_RATE) : int(end * voice.SAMPLE_RATE)] = 0.0
    out = work / "disguised.wav"
    write_wav(out, audio)
    wav.unlink()
    return out


def write_wav(path: Path, audio: np.ndarray) -> None:
    """``audio`` (float, 16 kHz mono) as 16-bit PCM WAV."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2")
    with wave.open(str(path), "wb") as fh:
        fh.setnchannels(1)
        fh.setsampwidth(2)
        fh.setframerate(voice.SAMPLE_RATE)
        fh.writeframes(pcm.tobytes())
