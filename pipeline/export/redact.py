"""Withheld names and passages: what every export replaces, and what `testimony withhold` records.

Exports never read a transcript directly: they read :func:`redacted`, a copy in which withheld
terms and segments are already replaced and the fields that could carry a name (the file name,
the sidecar's decoder hints, notes) are left out, so no exporter can leak them by mistake.
"""

from __future__ import annotations

import copy

from ..folding import nfc
from ..transcript import Transcript
from ..withheld import SHOWN_INTERVIEW_FIELDS, redact_text, term_pattern

SEGMENT_MARK = "[segment withheld]"
# Seconds of audio muted either side of a withheld segment: recognizer timestamps are approximate,
# and cutting a word off is better than letting half a name through.
MUTE_PAD = 0.25
# A withheld name inside a kept segment is muted at its word times, this much either side; where
# the recognizer was unsure of the word (or gives it less than MIN_WORD_S), the mute also reaches
# the neighbouring words' edges, so that the whole gap between them is silent.
NAME_PAD = 0.15
UNSURE_PROBABILITY = 0.5
MIN_WORD_S = 0.12


def redacted(t: Transcript) -> Transcript:
    """A copy safe to show outside: terms and segments replaced, identifying fields dropped."""
    out = copy.deepcopy(t)
    pattern = term_pattern(t.review.get("withheld_terms", []))
    for seg in out.segments:
        if seg.withheld:
            seg.text = SEGMENT_MARK
            seg.english = SEGMENT_MARK
        else:
            seg.text = redact_text(seg.text, pattern)
            seg.english = redact_text(seg.english, pattern)
        seg.speaker = redact_text(seg.speaker, pattern)
        # Subtitles need only when words are said and how long they are, never the words.
        seg.words = [] if seg.withheld else [{**w, "text": "x" * len(w["text"])} for w in seg.words]
    out.interview = {
        k: redact_text(str(t.interview[k]), pattern)
        for k in SHOWN_INTERVIEW_FIELDS
        if t.interview.get(k) not in (None, "")
    }
    out.source = {"sha256": t.source.get("sha256"), "duration_s": t.source.get("duration_s")}
    out.speakers = {
        k: v for k, v in t.speakers.items() if k != "names"
    }  # names given may be withheld ones
    out.review = {
        "status": t.review.get("status", "unreviewed"),
        "reviewers": [redact_text(r, pattern) for r in t.review.get("reviewers", [])],
        "withheld_terms": [],
        "withheld_term_count": len(
            {w.strip().casefold() for w in t.review.get("withheld_terms", []) if w.strip()}
        ),
    }
    return out


def mentions(t: Transcript) -> list[int]:
    """IDs of segments left audible that still say a withheld term (the video cannot hide those)."""
    pattern = term_pattern(t.review.get("withheld_terms", []))
    if pattern is None:
        return []
    return [s.id for s in t.segments if not s.withheld and pattern.search(s.text or "")]


def muted_spans(t: Transcript, duration: float | None = None) -> list[tuple[float, float]]:
    """Padded, merged (start, end) seconds of the withheld segments."""
    spans = [(max(0.0, s.start - MUTE_PAD), s.end + MUTE_PAD) for s in t.segments if s.withheld]
    return merge(spans, duration)


Span = tuple[float, float]


def name_spans(t: Transcript, duration: float | None = None) -> tuple[list[Span], list[int]]:
    """Where kept segments say a withheld term: (merged spans to mute, IDs of segments muted whole).

    A segment whose words have no times (or no longer spell its text) cannot be cut finer than
    itself, so it is muted whole and named in the second list.
    """
    pattern = term_pattern(t.review.get("withheld_terms", []))
    if pattern is None:
        return [], []
    spans, whole = [], []
    for seg in t.segments:
        if seg.withheld or not pattern.search(seg.text or ""):
            continue
        text, bounds = "", []
        for w in seg.words:  # composed, so that the pattern's offsets fall on these bounds
            word = nfc(w["text"])
            bounds.append((len(text), len(text) + len(word)))
            text += word
        hits = pattern.spans(text)
        if not hits:
            whole.append(seg.id)
            spans.append((max(0.0, seg.start - MUTE_PAD), seg.end + MUTE_PAD))
            continue
        for n, (a, b) in enumerate(bounds):
            if any(a < end and start < b for start, end in hits):
                spans.append(_word_span(seg.words, n, seg.start, seg.end))
    return merge(spans, duration), whole


def _word_span(words: list[dict], n: int, seg_start: float, seg_end: float) -> tuple[float, float]:
    w = words[n]
    start, end = w["start"] - NAME_PAD, w["end"] + NAME_PAD
    if w.get("probability", 1.0) < UNSURE_PROBABILITY or w["end"] - w["start"] < MIN_WORD_S:
        start = min(start, words[n - 1]["end"] if n else seg_start)
        end = max(end, words[n + 1]["start"] if n + 1 < len(words) else seg_end)
    return max(0.0, start), end


def merge(spans: list[Span], duration: float | None = None) -> list[Span]:
    """Sorted spans, overlapping ones joined, none past ``duration``."""
    merged: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if duration:
            end = min(end, duration)
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged
