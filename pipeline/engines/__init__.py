"""Speech-recognition engines behind one small interface, one module per engine.

Both engines run the same Whisper weights (openai-whisper from a ``.pt`` checkpoint,
faster-whisper from the CTranslate2 folder); everything above decoding (voice activity,
guards, flags, resuming) lives in :mod:`pipeline.asr` and is shared, so an engine only
detects a language and decodes audio into raw segments.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol

import numpy as np

ENGINES = ("openai-whisper", "faster-whisper")
DEFAULT_ENGINE = "openai-whisper"

# A raw segment: start, end, text, avg_logprob, no_speech_prob, compression_ratio, and words
# (each made by :func:`word`).
RawSegment = dict


def word(start: float, end: float, text: str, probability: float) -> dict:
    """One word in time, as the transcript stores it (times in seconds of the decoded audio)."""
    return {"start": float(start), "end": float(end), "text": text.strip(), "probability": float(probability)}


class Engine(Protocol):
    name: str

    def detect_language(self, audio: np.ndarray, allowed: Iterable[str]) -> dict[str, float]:
        """Language probabilities on the first 30 s, for ``allowed`` codes only."""

    def decode(self, audio: np.ndarray, language: str, *, initial_prompt: str | None,
               temperatures: tuple[float, ...], beam_size: int | None, cyrillic_only: bool,
               progress: Callable[[float], None] | None, best_of: int = 5,
               word_timestamps: bool = True) -> list[RawSegment]:
        """Whisper's sliding-window decoding of 16 kHz mono audio, never conditioned on the
        previous window (so one bad window cannot poison the rest); a window that fails the
        quality checks is decoded again at the next temperature, keeping the best of
        ``best_of`` samples."""


# Bytes a Cyrillic-script token may hold: ASCII other than letters (digits, punctuation,
# space), UTF-8 lead bytes of U+0400-U+04FF (all Kazakh, Kyrgyz and Russian letters), of
# Latin-1 punctuation (« ») and of general punctuation (— …), and continuation bytes.
_CYRILLIC_BYTES = frozenset([*range(0x20, 0x41), *range(0x5B, 0x61), *range(0x7B, 0x7F),
                             *range(0x80, 0xC0), 0xC2, 0xD0, 0xD1, 0xD2, 0xD3, 0xE2])


def foreign_script_token_ids(token_bytes: Iterable[tuple[int, bytes]]) -> list[int]:
    """Ids of the text tokens that cannot be part of Cyrillic-script text.

    Kazakh, Kyrgyz and Russian are written in Cyrillic; base Whisper writes whole Kazakh clips
    in Latin transliteration, and when it samples at higher temperatures, in Korean, Chinese or
    Arabic letters too. Suppressing these tokens keeps the output Cyrillic (digits and
    punctuation stay allowed)."""
    return [i for i, data in token_bytes if not set(data) <= _CYRILLIC_BYTES]


def load(name: str, model_path: str, threads: int = 0) -> Engine:
    if name == "openai-whisper":
        from .openai_whisper import OpenAIWhisper

        return OpenAIWhisper(model_path, threads)
    if name == "faster-whisper":
        from .faster_whisper import FasterWhisper

        return FasterWhisper(model_path, threads)
    raise ValueError(f"unknown speech engine {name!r}; expected one of {', '.join(ENGINES)}")
