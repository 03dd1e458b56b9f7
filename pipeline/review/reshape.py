"""Edits that change a transcript's shape: split and merge segments, rename and merge speakers.

Each changes the transcript in place and returns the audited changes and the IDs of the
segments it touched; :meth:`.edits.Reviews.change` checks revisions around it, records the
changes and writes reviewed.json in one transaction.
"""

from __future__ import annotations

from dataclasses import asdict

from .. import transcript as tr
from .changes import MERGE_SPEAKERS, Change, ReviewError

Applied = tuple[list[Change], set[int]]


def split_segment(
    t: tr.Transcript, segment_id: int, at: float, offset: int, new_id: int
) -> Applied:
    """Split a segment at a time, its source text at ``offset``, its English in proportion;
    the second part gets ``new_id``."""
    seg = next(s for s in t.segments if s.id == segment_id)
    if not seg.start < at < seg.end:
        raise ReviewError(
            f"split time {at:.2f}s is not inside segment {segment_id} "
            f"({seg.start:.2f}s-{seg.end:.2f}s); play to the split point first"
        )
    if not 0 <= offset <= len(seg.text):
        raise ReviewError(f"split position {offset} is outside the segment's text")
    english_a = english_b = seg.english
    if seg.english:
        english_a, english_b = _split_proportionally(seg.english, offset / max(len(seg.text), 1))
    second = tr.Segment(
        **{
            **asdict(seg),
            "id": new_id,
            "start": round(at, 3),
            "text": seg.text[offset:].strip(),
            "english": english_b,
            "reviewed": False,
            "flags": list(seg.flags),
        }
    )
    before = asdict(seg)
    seg.end, seg.text, seg.english, seg.reviewed = (
        round(at, 3),
        seg.text[:offset].strip(),
        english_a,
        False,
    )
    t.segments.append(second)
    changes = [
        Change(seg.id, name, before[name], getattr(seg, name), f"split into {seg.id} and {new_id}")
        for name in ("end", "text", "english", "reviewed")
        if before[name] != getattr(seg, name)
    ]
    changes.append(Change(new_id, "segment", None, asdict(second), f"split from {seg.id}"))
    return changes, {seg.id, new_id}


def pair(t: tr.Transcript, segment_id: int) -> tuple[tr.Segment, tr.Segment]:
    """A segment and the one after it, which a merge joins."""
    index = next(i for i, s in enumerate(t.segments) if s.id == segment_id)
    if index + 1 >= len(t.segments):
        raise ReviewError(
            f"segment {segment_id} is the last one; there is nothing after it to merge"
        )
    return t.segments[index], t.segments[index + 1]


def merge_segments(t: tr.Transcript, seg: tr.Segment, nxt: tr.Segment) -> Applied:
    """Merge ``nxt`` into ``seg`` (see :func:`pair`); the later one's ID is retired, not reused."""
    before = asdict(seg)
    seg.end = nxt.end
    seg.text = f"{seg.text} {nxt.text}".strip()
    seg.words = seg.words + nxt.words
    if seg.english is not None or nxt.english is not None:
        seg.english = f"{seg.english or ''} {nxt.english or ''}".strip()
    seg.flags = list(dict.fromkeys(seg.flags + nxt.flags))
    seg.speaker = seg.speaker or nxt.speaker
    seg.reviewed = False
    seg.withheld = seg.withheld or nxt.withheld
    t.segments.remove(nxt)
    action = f"merged {seg.id} with {nxt.id}"
    changes = [
        Change(seg.id, name, before[name], getattr(seg, name), action)
        for name in ("end", "text", "english", "flags", "speaker", "reviewed", "withheld")
        if before[name] != getattr(seg, name)
    ]
    changes.append(Change(nxt.id, "segment", asdict(nxt), None, f"merged into {seg.id}"))
    return changes, {seg.id, nxt.id}


def rename_speaker(t: tr.Transcript, old: str, new: str) -> Applied:
    """Every segment with the label ``old`` gets ``new``; one change for the whole interview."""
    return rename_speakers(t, {old: new})


def rename_speakers(t: tr.Transcript, names: dict[str, str]) -> Applied:
    """Renames ``{old: new}`` all at once, so that swapping two names swaps them (one after
    the other, the first would merge them); one change per rename."""
    labels = sorted({s.speaker for s in t.segments if s.speaker})
    for old in names:
        if old not in labels:
            raise ReviewError(
                f"no segment has the speaker {old!r}; speakers here: {', '.join(labels) or 'none'}"
            )
    hit = [s for s in t.segments if s.speaker in names]
    for seg in hit:
        seg.speaker = names[seg.speaker]
    given = t.speakers.setdefault("names", {})  # machine label -> the name reviewers gave it
    keys = {old: next((k for k, v in given.items() if v == old), old) for old in names}
    for old, new in names.items():
        given[keys[old]] = new
    changes = [Change(None, "speaker", old, new, "rename speaker") for old, new in names.items()]
    return changes, {s.id for s in hit}


def merge_speakers(t: tr.Transcript, source: str, target: str) -> Applied:
    """Every segment of ``source`` goes to ``target``; one change for the whole interview."""
    labels = sorted({s.speaker for s in t.segments if s.speaker})
    for name in (source, target):
        if name not in labels:
            raise ReviewError(
                f"no segment has the speaker {name!r}; speakers here: {', '.join(labels) or 'none'}"
            )
    hit = [s for s in t.segments if s.speaker == source]
    for seg in hit:
        seg.speaker = target
    t.speakers.setdefault("merged", []).append({"from": source, "into": target})
    return [Change(None, "speaker", source, target, MERGE_SPEAKERS)], {s.id for s in hit}


def _split_proportionally(text: str, fraction: float) -> tuple[str, str]:
    """Cut text at the word boundary nearest the given fraction of its length."""
    target = round(len(text) * fraction)
    spaces = [i for i, ch in enumerate(text) if ch.isspace()]
    if not spaces:
        return (text, "") if fraction >= 0.5 else ("", text)
    cut = min(spaces, key=lambda i: abs(i - target))
    return text[:cut].strip(), text[cut:].strip()
