"""Speech the decoder skipped or looped over, found and decoded again on its own.

Whisper sometimes jumps its window past a whole utterance (its next timestamp lands seconds
later), and the words said there are silently missing from the transcript; base Whisper on
Kazakh also falls into loops that run on over the speech after them (:mod:`pipeline.loops`).
Both leave stretches of speech that no kept word covers; this module finds them with the voice
detector and puts their own decoding in place.
"""

from __future__ import annotations

import dataclasses
import logging
from typing import Callable

import numpy as np

from .engines.raw import RawSegment, RawWord
from .loops import collapse_word_loops
from .media import SAMPLE_RATE
from .vad import speech_spans

log = logging.getLogger(__name__)

# A gap of this many seconds between segments holding this much speech is speech the decoder
# skipped, not a pause (bench/make_speakers.py's conversations lost whole turns this way).
GAP_S = 2.0
MISSED_S = 1.0
FILL_ROUNDS = 3  # rounds of decoding them again (a stretch decoded again can loop in turn)
# A "word" timed over longer than a gap is a loop inside one word (a syllable repeated to the end
# of a window, often ending in a broken character), not a word said slowly: the speech under it
# is missing (found by the independent check of batched windows on speech without pauses).
LONG_WORD_S = GAP_S
# How far before its clip's start the batched decoder times a clip's first segment: its
# timestamps are rounded (26.330 for a clip starting at 26.336).
SEAM_S = 0.1

# Stretches (sample ranges) in; their raw segments out, in the audio's time, inside the stretches.
Decode = Callable[[list[tuple[int, int]]], list[RawSegment]]


def skipped_speech(audio: np.ndarray, raw: list[RawSegment]) -> list[tuple[int, int]]:
    """Sample ranges of speech that fall between the decoder's segments.

    A gap of GAP_S or more between segments in which the voice detector hears MISSED_S of
    speech is a jump of the decoder's window; a pause between sentences is not. Where the
    decoder looped, only the words left once the loop is cut count as transcribed: the
    repetitions, and a word looping over many seconds, lie over speech that is missing."""
    bounds = sorted(span for s in raw if s.text.strip() for span in transcribed_spans(s))
    found, reached = [], 0.0
    for start, end in [*bounds, (len(audio) / SAMPLE_RATE, len(audio) / SAMPLE_RATE)]:
        if start - reached >= GAP_S:
            lo, hi = int(reached * SAMPLE_RATE), int(start * SAMPLE_RATE)
            speech = speech_spans(audio[lo:hi], min_silence_ms=500, pad_ms=200)
            if sum(b - a for a, b in speech) >= MISSED_S * SAMPLE_RATE:
                found.append((lo + speech[0][0], lo + speech[-1][1]))
        reached = max(reached, end)
    return found


def loop_kept(seg: RawSegment) -> list[RawWord] | None:
    """The words a raw segment keeps once its loops and its words longer than LONG_WORD_S are
    cut, or None when its decoder did not loop."""
    kept = [w for w in collapse_word_loops(list(seg.words)) if w.end - w.start <= LONG_WORD_S]
    return kept if len(kept) < len(seg.words) else None


def transcribed_spans(seg: RawSegment) -> list[tuple[float, float]]:
    """The spans of a raw segment's words (where its decoder looped, of the words it keeps), or
    its whole span when it has none: a batched window is one segment, and speech its decoder
    jumped over lies between its words (found by the independent check: two of four answers
    missing from a window, with no flag)."""
    kept = loop_kept(seg)
    if kept is None:
        return [(w.start, w.end) for w in seg.words] or [(seg.start, seg.end)]
    return [(w.start, w.end) for w in kept]


def _middle(word: RawWord) -> float:
    """Where a word is said, for placing it against a stretch: the voice detector pads a stretch
    by 0.2 s, so a word's edge may overlap it while the word lies outside."""
    return (word.start + word.end) / 2


def cut_around(seg: RawSegment, stretches: list[tuple[float, float]]) -> list[RawSegment]:
    """A segment as the runs of its kept words between the stretches decoded again: a looped
    segment around every stretch it overlaps, one that did not loop around the stretches
    between its words (otherwise it stays whole)."""
    kept = loop_kept(seg)
    inside = [(lo, hi) for lo, hi in stretches if lo < seg.end and hi > seg.start]
    if kept is None and seg.words:
        kept, first, last = list(seg.words), _middle(seg.words[0]), _middle(seg.words[-1])
        inside = [(lo, hi) for lo, hi in inside if first < lo and hi < last]
    if kept is None or not inside:
        return [seg]
    runs: list[list[RawWord]] = [[]]
    for w in kept:
        if any(lo <= _middle(w) <= hi for lo, hi in inside):
            continue
        if runs[-1] and any(_middle(runs[-1][-1]) < lo and hi < _middle(w) for lo, hi in inside):
            runs.append([])
        runs[-1].append(w)
    parts = []
    for run in filter(None, runs):
        follows_cut = any(hi < _middle(run[0]) for _, hi in inside)
        precedes_cut = any(_middle(run[-1]) < lo for lo, _ in inside)
        parts.append(
            dataclasses.replace(
                seg,
                text=" ".join(w.text for w in run),
                words=tuple(run),
                start=run[0].start if follows_cut else seg.start,
                end=run[-1].end if precedes_cut else seg.end,
            )
        )
    return parts


def shifted(words: tuple[RawWord, ...], shift: float) -> tuple[RawWord, ...]:
    """Word times from a decoding of a stretch, moved to the times of the audio it was cut from."""
    return tuple(dataclasses.replace(w, start=w.start + shift, end=w.end + shift) for w in words)


def fill_gaps(audio: np.ndarray, raw: list[RawSegment], decode: Decode) -> list[RawSegment]:
    """``raw`` with the speech the decoder skipped, or looped over, decoded on its own and put in
    its place; a looped segment keeps only its words outside what was decoded again. A stretch
    decoded again can loop in turn, so this repeats up to FILL_ROUNDS times, never decoding the
    same stretch twice."""
    done: set[tuple[int, int]] = set()
    for _ in range(FILL_ROUNDS):
        skipped = [stretch for stretch in skipped_speech(audio, raw) if stretch not in done]
        if not skipped:
            break
        added = decode(skipped)
        log.info(
            "decoded %d stretches of speech the decoder had skipped or looped over", len(skipped)
        )
        done.update(skipped)
        seconds = [(lo / SAMPLE_RATE, hi / SAMPLE_RATE) for lo, hi in skipped]
        kept = [part for seg in raw for part in cut_around(seg, seconds)]
        raw = sorted(kept + added, key=lambda s: s.start)
    return raw


def each_on_its_own(
    audio: np.ndarray,
    stretches: list[tuple[int, int]],
    decode: Callable[[np.ndarray], list[RawSegment]],
) -> list[RawSegment]:
    """Each stretch's audio decoded by a call of its own, its segments moved to their place."""
    added = []
    for lo, hi in stretches:
        shift = lo / SAMPLE_RATE
        for seg in decode(audio[lo:hi]):
            added.append(
                dataclasses.replace(
                    seg,
                    start=seg.start + shift,
                    end=min(seg.end + shift, hi / SAMPLE_RATE),
                    words=shifted(seg.words, shift),
                )
            )
    return added


def held_inside(segments: list[RawSegment], clips: list[tuple[float, float]]) -> list[RawSegment]:
    """Segments of clips decoded side by side, each held inside its clip: what the decoder times
    past a clip's end was not heard in it, so a word or segment timed wholly there is dropped.

    A segment belongs to the last clip starting no later than SEAM_S after it."""
    held = []
    for seg in segments:
        lo, hi = next(
            ((lo, hi) for lo, hi in reversed(clips) if lo <= seg.start + SEAM_S), clips[0]
        )
        start, end = max(seg.start, lo), min(seg.end, hi)
        if end <= start:
            log.info("dropped a segment timed past the end of its window")
            continue
        words = tuple(
            dataclasses.replace(w, start=max(w.start, start), end=min(w.end, end))
            for w in seg.words
            if w.start < end
        )
        text = seg.text if len(words) == len(seg.words) else " ".join(w.text for w in words)
        held.append(dataclasses.replace(seg, start=start, end=end, text=text, words=words))
    return held
