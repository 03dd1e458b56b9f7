"""Speech to text with openai-whisper, keeping what a reviewer needs to judge each segment.

Whisper knows Kazakh and Russian but has no Kyrgyz: a Kyrgyz recording is decoded as Kazakh
(the closest language it has) and every segment is flagged for full review. When no language
is given, detection is restricted to the languages these interviews are in.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import math
import types
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from .transcript import Segment, write_atomic

log = logging.getLogger(__name__)

DETECTABLE = ("kk", "ru")
WHISPER_STANDIN = {"ky": "kk"}  # languages Whisper lacks -> the closest one it has
UNSUPPORTED_FLAG = "unsupported language: full review needed"

# Thresholds of whisper.transcribe's own fallback logic, reused to flag what still fails them.
LOW_LOGPROB = -1.0
HIGH_COMPRESSION = 2.4
HIGH_NO_SPEECH = 0.6
FALLBACK_TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)


@dataclass
class Recognition:
    language: str
    detected: dict[str, float] | None
    segments: list[Segment]


class _Progress:
    """Stands in for the tqdm bar inside whisper.transcribe to report how far decoding is."""

    def __init__(self, callback: Callable[[float], None], total: int, **_):
        self.callback, self.total, self.done = callback, max(total, 1), 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, n: int) -> None:
        self.done += n
        self.callback(min(self.done / self.total, 1.0))


@contextlib.contextmanager
def _reporting(callback: Callable[[float], None] | None):
    wt = importlib.import_module("whisper.transcribe")  # the module; the package re-exports a function

    if callback is None:
        yield
        return
    original = wt.tqdm
    wt.tqdm = types.SimpleNamespace(tqdm=lambda total, **kw: _Progress(callback, total, **kw))
    try:
        yield
    finally:
        wt.tqdm = original


def load_model(checkpoint: str, threads: int = 0):
    import torch
    import whisper

    if threads:
        torch.set_num_threads(threads)
    return whisper.load_model(checkpoint, device="cpu")


def detect_language(model, audio: np.ndarray, allowed=DETECTABLE) -> tuple[str, dict[str, float]]:
    """Whisper's language detection on the first 30 s, restricted to ``allowed``."""
    import whisper

    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(audio), model.dims.n_mels).to(model.device)
    _, probs = model.detect_language(mel)
    scores = {code: _figure(probs.get(code, 0.0)) or 0.0 for code in allowed}
    return max(scores, key=scores.get), scores


def _figure(value) -> float | None:
    """A decoder figure rounded for the transcript; None for NaN or infinity, which JSON cannot hold."""
    value = float(value)
    return round(value, 4) if math.isfinite(value) else None


def flags_for(seg: dict) -> list[str]:
    flags = []
    if seg["avg_logprob"] < LOW_LOGPROB:
        flags.append("low confidence")
    if seg["compression_ratio"] > HIGH_COMPRESSION:
        flags.append("repetition")
    if seg["no_speech_prob"] > HIGH_NO_SPEECH and seg["avg_logprob"] < LOW_LOGPROB:
        flags.append("possible hallucination in silence")
    return flags


def transcribe(model, audio: np.ndarray, language: str | None, *,
               progress: Callable[[float], None] | None = None,
               initial_prompt: str | None = None, fallback: bool = True) -> Recognition:
    """Decode ``audio`` (16 kHz mono float32) into segments with confidence figures and flags.

    ``fallback`` re-decodes a window at rising temperatures when it looks like a hallucination
    (whisper's default); without it decoding is greedy and exactly reproducible.
    """
    import whisper

    detected = None
    if language is None:
        language, detected = detect_language(model, audio)
    decode_as = WHISPER_STANDIN.get(language, language)
    with _reporting(progress):
        result = whisper.transcribe(
            model, audio, language=decode_as, task="transcribe", fp16=False, verbose=None,
            initial_prompt=initial_prompt, condition_on_previous_text=False,
            temperature=FALLBACK_TEMPERATURES if fallback else 0.0,
        )
    segments = []
    for i, seg in enumerate(s for s in result["segments"] if s["text"].strip()):
        figures = {key: _figure(seg[key]) for key in ("avg_logprob", "no_speech_prob", "compression_ratio")}
        if None in figures.values():  # the decoder gave no usable figure: nothing vouches for the text
            flags = ["low confidence"]
        else:
            flags = flags_for(figures)
        if decode_as != language:
            flags.append(UNSUPPORTED_FLAG)
        segments.append(Segment(
            id=i + 1, start=round(float(seg["start"]), 3), end=round(float(seg["end"]), 3),
            language=language, text=seg["text"].strip(), flags=flags, **figures,
        ))
    log.info("transcribed %d segments as %s", len(segments), decode_as)
    return Recognition(language=language, detected=detected, segments=segments)


def transcribe_file(model, wav: Path, language: str | None, *, resume_dir: Path, resume_key: str,
                    progress: Callable[[float], None] | None = None, chunk_seconds: float = 600,
                    **options) -> Recognition:
    """Transcribe a long WAV piece by piece, saving each piece's segments as it is done.

    A run that was killed picks up after the last saved piece (when ``resume_key``, which
    names the model and options, is unchanged) instead of starting over.
    """
    from . import media

    total = max(media.wav_seconds(wav), 1e-6)
    detected, segments = None, []
    resume_dir.mkdir(parents=True, exist_ok=True)
    for n, (offset, audio) in enumerate(media.wav_chunks(wav, chunk_seconds)):
        saved = resume_dir / f"piece-{n:04d}.json"
        state = json.loads(saved.read_text()) if saved.exists() else None
        if state is None or state["key"] != resume_key or (language and state["language"] != language):
            report = (lambda f, o=offset, d=len(audio) / media.SAMPLE_RATE: progress((o + f * d) / total)
                      ) if progress else None
            part = transcribe(model, audio, language, progress=report, **options)
            state = {"key": resume_key, "language": part.language, "detected": part.detected,
                     "segments": [asdict(s) for s in part.segments]}
            write_atomic(saved, json.dumps(state, ensure_ascii=False))
        else:
            log.info("resuming after piece %d of %s", n, wav)
        language = language or state["language"]
        detected = detected or state["detected"]
        for seg in map(lambda d: Segment(**d), state["segments"]):
            seg.id = len(segments) + 1
            seg.start, seg.end = round(seg.start + offset, 3), round(seg.end + offset, 3)
            segments.append(seg)
    if progress:
        progress(1.0)
    return Recognition(language=language, detected=detected, segments=segments)
