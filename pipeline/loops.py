"""The decoder's loops: a word, phrase or syllable Whisper repeats over and over.

Base Whisper on Kazakh often falls into a loop ("түті түті түті ...") that runs on over the
speech after it. A phrase said LOOP_REPEATS or more times in a row is cut back to its first
occurrence, in the text and in the timed words alike, so the transcript is not flooded and the
words really said keep their times (:mod:`pipeline.asr` then decodes the speech under the loop
again).
"""

from __future__ import annotations

import dataclasses
import re
from typing import Callable

from .engines.raw import RawWord

LOOP_REPEATS = 3  # a phrase said this many times in a row is a decoder loop, not speech
# The longest phrase, in words, looked for: a window's loop can be a whole sentence (the
# independent check found one of ten words, missed at 8); said three times in a row, a phrase
# this long is never speech.
LONGEST = 20

# A syllable of 2-4 letters said four or more times in a row inside one word ("оқиғағағағаға"):
# the decoder looping within a word, which the word-level check below cannot see.
_SYLLABLE_LOOP = re.compile(r"(\w{2,4}?)\1{3,}")


def _collapse_runs(units: list, key: Callable, repeats: int, longest: int) -> tuple[list, bool]:
    """``units`` with any run of 1..``longest`` units repeated ``repeats``+ times in a row cut
    back to its first occurrence (units compared by ``key``)."""
    units, changed = list(units), False
    for n in range(1, longest + 1):
        i = 0
        while i + n * repeats <= len(units):
            unit = [key(u) for u in units[i : i + n]]
            count = 1
            while (
                units[i + count * n : i + (count + 1) * n]
                and [key(u) for u in units[i + count * n : i + (count + 1) * n]] == unit
            ):
                count += 1
            if count >= repeats:
                del units[i + n : i + count * n]
                changed = True
            i += 1
    return units, changed


def _loop_key(word: str) -> str:
    return word.strip().strip(".,!?…").lower()


def collapse_loops(
    text: str, repeats: int = LOOP_REPEATS, longest: int = LONGEST
) -> tuple[str, bool]:
    """Cut a word or phrase repeated ``repeats``+ times in a row back to one occurrence, and a
    syllable looping inside a word likewise."""
    text, loops = _SYLLABLE_LOOP.subn(r"\1", text)
    words, changed = _collapse_runs(text.split(), _loop_key, repeats, longest)
    return " ".join(words), changed or bool(loops)


def collapse_word_loops(
    words: list[RawWord], repeats: int = LOOP_REPEATS, longest: int = LONGEST
) -> list[RawWord]:
    """The timed words cut as :func:`collapse_loops` cuts the text, so that a segment whose
    decoder looped keeps the times of the words that were really said (each kept occurrence
    keeps its own time), rather than losing them all."""
    words = [dataclasses.replace(w, text=_SYLLABLE_LOOP.sub(r"\1", w.text)) for w in words]
    return _collapse_runs(words, lambda w: _loop_key(w.text), repeats, longest)[0]
