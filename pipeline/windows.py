"""Where batched decoding cuts the audio: contiguous windows of at most 30 s, cut in pauses.

faster-whisper's batched pipeline, left to itself, finds its own chunks with a voice detector
tuned for speed (pauses of 160 ms cut out, 400 ms of padding) and splices them together; on the
Russian dev clips that cost words at the chunks' edges (docs/benchmarks.md). These windows keep
every sample and every pause, packed as close to 30 s as the pauses allow, so there are about
as many as the sequential decoder's own and each is heard as the sequential decoder would hear
it: only the batching differs.
"""

from __future__ import annotations

import bisect
import dataclasses

import numpy as np

from .engines.raw import RawSegment
from .media import SAMPLE_RATE
from .vad import speech_spans

WINDOW_S = 30.0  # Whisper's input: a longer window would be cut short
PAUSE_MS = 300  # a pause this long between words is a place to cut
# A batched window's segment longer than this is cut at its longest pause between words: the
# sequential decoder's segments on the interview were about 5 s (median), and flags, the
# Russian-passage check and the reviewer's unit of work are per segment.
SEGMENT_S = 10.0


def decoding_windows(audio: np.ndarray, limit_s: float = WINDOW_S) -> list[tuple[float, float]]:
    """(start, end) seconds covering all of ``audio``, each at most ``limit_s``, cut in the
    middle of the last pause that fits, or at ``limit_s`` where speech runs on without one."""
    total, limit = len(audio), int(limit_s * SAMPLE_RATE)
    if total <= limit:
        return [(0.0, total / SAMPLE_RATE)] if total else []
    speech = speech_spans(audio, PAUSE_MS, pad_ms=100, max_speech_s=limit_s - 1)
    pauses = [(a_end + b_start) // 2 for (_, a_end), (b_start, _) in zip(speech, speech[1:])]
    cuts, start = [], 0
    for n, pause in enumerate([*pauses, total]):
        while pause - start > limit:
            fitting = [p for p in pauses[:n] if start < p <= start + limit]
            start = fitting[-1] if fitting else start + limit
            cuts.append(start)
    bounds = [0, *cuts, total]
    return [(lo / SAMPLE_RATE, hi / SAMPLE_RATE) for lo, hi in zip(bounds, bounds[1:]) if hi > lo]


def stretch_windows(
    audio: np.ndarray, stretches: list[tuple[int, int]]
) -> list[tuple[float, float]]:
    """The windows of each stretch (a sample range of ``audio``), in seconds of ``audio``."""
    return [
        (lo / SAMPLE_RATE + start, lo / SAMPLE_RATE + end)
        for lo, hi in stretches
        for start, end in decoding_windows(audio[lo:hi])
    ]


def split_long(seg: RawSegment, limit_s: float = SEGMENT_S) -> list[RawSegment]:
    """``seg`` cut at its longest pause between words until no part is longer than ``limit_s``
    (a part of one word stays whole, and no part is left without time); each part keeps the
    decoder's figures for the whole."""
    if seg.end - seg.start <= limit_s or len(seg.words) < 2:
        return [seg]
    pairs = enumerate(zip(seg.words, seg.words[1:]), 1)
    middle = (seg.start + seg.end) / 2
    # never a cut that leaves a part no time (words held at the segment's edges); of pauses
    # equally long (none, in speech without pauses), the one nearest the middle: the last of
    # them cut one word off at a time (found by the independent check on clipped audio)
    gaps = [
        (round(b.start - a.end, 2), -abs(b.start - middle), n)
        for n, (a, b) in pairs
        if seg.start < a.end and b.start < seg.end
    ]
    if not gaps:
        return [seg]
    cut = max(gaps)[2]
    head, tail = seg.words[:cut], seg.words[cut:]
    parts = (
        dataclasses.replace(seg, end=head[-1].end, text=" ".join(w.text for w in head), words=head),
        dataclasses.replace(
            seg, start=tail[0].start, text=" ".join(w.text for w in tail), words=tail
        ),
    )
    return [piece for part in parts for piece in split_long(part, limit_s)]


def split_at_splices(seg: RawSegment, splices: list[float]) -> list[RawSegment]:
    """``seg`` cut where a silence was cut out of the audio under it (``splices``, in the
    decoded audio's time), each word kept on the side of a splice where most of it lies.

    Mapped back, a segment or word across a splice would span the whole silence: the
    independent check found one word timed over 20 s of silence, in a 27 s segment."""
    inside = [t for t in splices if seg.start < t < seg.end]
    if not inside:
        return [seg]
    bounds = [seg.start, *inside, seg.end]
    sides: list[list] = [[] for _ in inside] + [[]]
    for w in seg.words:
        start, end = w.start, w.end
        for t in inside:
            if start < t < end:
                start, end = (start, t) if t - start >= end - t else (t, end)
        side = bisect.bisect_right(inside, (start + end) / 2)
        sides[side].append(dataclasses.replace(w, start=start, end=end))
    filled = [(n, words) for n, words in enumerate(sides) if words]
    if not filled:
        return [seg]
    return [
        dataclasses.replace(
            seg,
            start=bounds[n],
            end=bounds[n + 1],
            words=tuple(words),
            text=seg.text if len(filled) == 1 else " ".join(w.text.strip() for w in words),
        )
        for n, words in filled
    ]
