"""Where the speech is: Silero's voice activity detector (ONNX, shipped inside faster-whisper),
used to cut long silences out before decoding, where Whisper would invent text."""

from __future__ import annotations

import bisect

import numpy as np

from .media import SAMPLE_RATE

# Only silences this long are cut out before decoding. Cutting shorter pauses saves little but
# splices the audio, which moves Whisper's 30 s windows: on the 10-minute interview with 2 s
# pauses, cutting them took 30 windows instead of 26, 9 % longer, at WER 0.940 against 0.925.
CUT_SILENCE_MS = 5000


def speech_regions(audio: np.ndarray) -> list[tuple[int, int]]:
    """(start, end) sample ranges holding speech, padded, per Silero VAD (ONNX, offline)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    if len(audio) == 0:
        return []
    options = VadOptions(min_silence_duration_ms=CUT_SILENCE_MS, speech_pad_ms=1000)
    found = get_speech_timestamps(audio, options)
    return [(c["start"], c["end"]) for c in found]


class TimeMap:
    """Maps times in the speech-only audio back to times in the original."""

    def __init__(self, regions: list[tuple[int, int]]):
        self.starts, self.shifts, position = [], [], 0
        for start, end in regions:
            self.starts.append(position / SAMPLE_RATE)
            self.shifts.append((start - position) / SAMPLE_RATE)
            position += end - start

    def __call__(self, t: float, end: bool = False) -> float:
        found = bisect.bisect_left(self.starts, t) if end else bisect.bisect_right(self.starts, t)
        i = max(found - 1, 0)
        return t + self.shifts[i]
