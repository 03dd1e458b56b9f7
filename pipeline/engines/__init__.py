"""Speech-recognition engines behind one small interface, one module per engine.

Both engines run the same Whisper weights (openai-whisper from a ``.pt`` checkpoint,
faster-whisper from the CTranslate2 folder); everything above decoding (voice activity,
guards, flags, resuming) lives in :mod:`pipeline.asr` and is shared, so an engine only
detects a language and decodes audio into raw segments.
"""

from __future__ import annotations

from typing import Callable, Iterable, Protocol

import numpy as np

from . import compute
from .compute import AUTO
from .raw import EngineOptions, RawSegment

ENGINES = ("openai-whisper", "faster-whisper")
# faster-whisper: 3.4x faster than openai-whisper on a 2-core machine at equal or better word
# error rate on both development sets (docs/benchmarks.md). openai-whisper
# stays the reference engine (bench --baseline, the test suite's plumbing).
DEFAULT_ENGINE = "faster-whisper"
# Windows of up to 30 s, cut at pauses, decoded this many at a time (pipeline/windows.py): on the
# 10-minute interview about the bare sequential call's time, at fewer word errors, where window
# after window (0) takes about twice as long (docs/benchmarks.md, "Batched windows").
DEFAULT_BATCH_SIZE = 8


class Engine(Protocol):
    name: str
    compute_type: str  # what it computes in: a piece decoded in another is decoded again
    batches: bool  # decodes EngineOptions.clips side by side (faster-whisper)

    def detect_language(self, audio: np.ndarray, allowed: Iterable[str]) -> dict[str, float]:
        """Language probabilities on the first 30 s, for ``allowed`` codes only."""

    def decode(
        self,
        audio: np.ndarray,
        options: EngineOptions,
        progress: Callable[[float], None] | None = None,
    ) -> list[RawSegment]:
        """16 kHz mono audio decoded as ``options`` say, in segments timed in its seconds."""


def load(
    name: str, model_path: str, threads: int = 0, device: str = "cpu", compute_type: str = AUTO
) -> Engine:
    """``device`` "cuda" is a GPU worker (pipeline/cluster/decoder.py); ``compute_type`` "auto" is
    the measured best for the device (:mod:`pipeline.engines.compute`)."""
    if name not in ENGINES:
        raise ValueError(f"unknown speech engine {name!r}; expected one of {', '.join(ENGINES)}")
    chosen = compute.choose(name, device, compute_type)
    if name == "openai-whisper":
        from .openai_whisper import OpenAIWhisper

        return OpenAIWhisper(model_path, threads, device, chosen)
    from .faster_whisper import FasterWhisper

    return FasterWhisper(model_path, threads, device, chosen)
