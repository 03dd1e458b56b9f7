"""English subtitles timed and wrapped for reading, not one block per recognizer segment.

A recognizer segment can hold 30 seconds of speech; shown whole it fills the screen. Each
segment is cut into cues of at most two lines of about 42 characters, at sentence ends where
possible. Where the segment has word times, each cue changes at a pause between the spoken
words at about the same share of the text, else the segment's time is shared among them by
length. A cue that would go faster than about 17 characters a second is left on screen into
the following pause, when there is one. A cue where a new speaker starts talking begins with
the speaker's name in brackets, "[Interviewer] ...", as newsroom subtitles do.
"""

from __future__ import annotations

import re
import textwrap
from dataclasses import dataclass

from ..transcript import Segment, new_speakers, timestamp

MAX_CHARS = 42
MAX_LINES = 2
MAX_CPS = 17.0
MIN_CUE_S = 1.0
UNREVIEWED_MARK = "UNREVIEWED MACHINE TRANSLATION"


@dataclass
class Cue:
    start: float
    end: float
    lines: list[str]
    top: bool = False  # shown at the top of the picture (the unreviewed marker)

    @property
    def chars(self) -> int:
        return sum(len(line) for line in self.lines)


def _lines(text: str) -> list[str]:
    """One line, or two of nearly equal length (easier to read than a long and a short one)."""
    if len(text) <= MAX_CHARS:
        return [text]
    spaces = [i for i, ch in enumerate(text) if ch == " "]
    fits = [i for i in spaces if i <= MAX_CHARS and len(text) - i - 1 <= MAX_CHARS]
    if not fits:
        return textwrap.wrap(text, MAX_CHARS)
    cut = min(fits, key=lambda i: abs(len(text) / 2 - i))
    return [text[:cut], text[cut + 1 :]]


def _fits(text: str) -> bool:
    return len(textwrap.wrap(text, MAX_CHARS)) <= MAX_LINES


def _split_words(sentence: str) -> list[str]:
    """A sentence too long for one cue, in word runs of similar length that each fit one.

    A "word" longer than a line (a web address, a recognizer's run of letters) is cut into line lengths.
    """
    words = [
        word[i : i + MAX_CHARS] for word in sentence.split() for i in range(0, len(word), MAX_CHARS)
    ]
    greedy: list[list[str]] = [[]]
    for word in words:
        if greedy[-1] and not _fits(" ".join(greedy[-1] + [word])):
            greedy.append([])
        greedy[-1].append(word)
    target = len(sentence) / len(greedy)
    balanced: list[list[str]] = [[]]
    for word in words:
        if (
            balanced[-1]
            and len(" ".join(balanced[-1] + [word])) > target
            and len(balanced) < len(greedy)
        ):
            balanced.append([])
        balanced[-1].append(word)
    chunks = balanced if all(_fits(" ".join(c)) for c in balanced) else greedy
    return [" ".join(c) for c in chunks]


def _pack(units: list[str], split) -> list[str]:
    """Join consecutive units while they fit one cue; a unit too long for one goes to ``split``."""
    pieces: list[str] = []
    current = ""
    for unit in units:
        joined = f"{current} {unit}".strip()
        if _fits(joined):
            current = joined
            continue
        if current:
            pieces.append(current)
        *full, current = [unit] if _fits(unit) else split(unit)
        pieces.extend(full)
    if current:
        pieces.append(current)
    return pieces


def chunks(text: str) -> list[str]:
    """The text in pieces that each fit one cue: whole sentences, else clauses, else word runs."""
    sentences = re.split(r"(?<=[.!?…])\s+", " ".join(text.split()))
    return _pack(
        [s for s in sentences if s],
        lambda sentence: _pack(re.split(r"(?<=[,;:])\s+", sentence), _split_words),
    )


def _pause_near(words: list[dict], share: float, reach: float = 0.15) -> float:
    """The time between two spoken words at about ``share`` of the text: the longest pause within
    ``reach`` of that share, else the word boundary nearest it."""
    total = sum(len(w["text"]) + 1 for w in words)
    done, candidates = 0, []
    for w, nxt in zip(words, words[1:]):
        done += len(w["text"]) + 1
        candidates.append(
            (abs(done / total - share), nxt["start"] - w["end"], (w["end"] + nxt["start"]) / 2)
        )
    near = [c for c in candidates if c[0] <= reach]
    return max(near, key=lambda c: c[1])[2] if near else min(candidates)[2]


def cues(
    segments: list[Segment], duration: float | None = None, unreviewed: bool = False
) -> list[Cue]:
    """Reading cues for the segments' English; ``unreviewed`` adds a marker over the whole video."""
    spoken = [s for s in segments if (s.english or "").strip()]
    result: list[Cue] = []
    for n, (seg, name) in enumerate(zip(spoken, new_speakers(spoken))):
        pieces = chunks(f"[{name}] {seg.english}" if name else seg.english)
        lengths = [len(p) for p in pieces]
        limit = (
            spoken[n + 1].start if n + 1 < len(spoken) else (duration or seg.end + 2 * MIN_CUE_S)
        )
        wanted = max(sum(lengths) / MAX_CPS, MIN_CUE_S * len(pieces))
        end = max(seg.end, min(seg.start + wanted, limit))
        if len(seg.words) > 1 and len(pieces) > 1:  # change cues at pauses in the speech
            shares = [sum(lengths[: i + 1]) / sum(lengths) for i in range(len(pieces) - 1)]
            bounds = [seg.start, *sorted(_pause_near(seg.words, share) for share in shares), end]
        else:
            bounds = [seg.start]
            for length in lengths:
                bounds.append(bounds[-1] + (end - seg.start) * length / sum(lengths))
        for piece, at, until in zip(pieces, bounds, bounds[1:]):
            result.append(Cue(round(at, 3), round(until, 3), _lines(piece)))
    if unreviewed:
        last = max([c.end for c in result] + [duration or 0.0, MIN_CUE_S])
        result.insert(0, Cue(0.0, last, [UNREVIEWED_MARK], top=True))
    return result


def srt(items: list[Cue]) -> str:
    blocks = []
    for n, cue in enumerate(items, 1):
        text = "\n".join(cue.lines)
        if cue.top:
            text = r"{\an8}" + text  # top of the picture in players that read SubRip's ASS tags
        blocks.append(f"{n}\n{timestamp(cue.start, ',')} --> {timestamp(cue.end, ',')}\n{text}\n")
    return "\n".join(blocks)


def vtt(items: list[Cue]) -> str:
    blocks = ["WEBVTT\n"]
    if any(cue.top for cue in items):
        blocks.append(f"NOTE {UNREVIEWED_MARK}: not checked by a person.\n")
    for n, cue in enumerate(items, 1):
        setting = " line:0" if cue.top else ""
        text = "\n".join(cue.lines).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        blocks.append(
            f"{n}\n{timestamp(cue.start, '.')} --> {timestamp(cue.end, '.')}{setting}\n{text}\n"
        )
    return "\n".join(blocks)
