"""Withheld terms: how a name a reviewer withheld is found and replaced in any text.

A low module shared by export (which replaces them in everything it writes, see
:mod:`pipeline.export.redact`) and search (which never shows them to the press), so that
neither imports the other.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .folding import fold, nfc

TERM_MARK = "[name withheld]"
# Sidecar fields an export or the press's search may show; everything else (names hints, notes)
# stays internal.
SHOWN_INTERVIEW_FIELDS = ("recorded_on", "interviewee")


@dataclass(frozen=True)
class TermPattern:
    """Withheld terms, matched in the folded form search uses (:mod:`pipeline.folding`).

    So every spelling search treats as the same word is hidden too: a Kazakh letter typed as
    its Russian-keyboard stand-in (Кызылорда for Қызылорда), ё for е, decomposed Unicode.
    """

    regex: re.Pattern

    def search(self, text: str) -> bool:
        return self.regex.search(fold(text)) is not None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """Where the terms are in ``text`` once composed (NFC), as character offsets there."""
        return [m.span() for m in self.regex.finditer(fold(nfc(text)))]

    def sub(self, text: str) -> str:
        """``text`` with every match replaced; unchanged (not even normalised) without one."""
        if not self.search(text):
            return text
        composed = nfc(text)  # fold keeps NFC positions, so spans found there apply here
        out, last = [], 0
        for m in self.regex.finditer(fold(composed)):
            out += [composed[last : m.start()], TERM_MARK]
            last = m.end()
        return "".join(out) + composed[last:]


def term_pattern(terms: list[str]) -> TermPattern | None:
    """Any term, case-insensitive, starting a word and taking the rest of that word with it.

    Kazakh and Russian add endings to names (Ерлан: Ерланның, Ерланды; Ерлана, Ерланом), so a
    term hides its inflected forms too. Spaces inside a term match any spacing.
    """
    cleaned = sorted({fold(t).strip() for t in terms if t.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    parts = [r"\s+".join(re.escape(word) for word in term.split()) for term in cleaned]
    return TermPattern(re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")\w*", re.IGNORECASE))


def redact_text(text: str | None, pattern: TermPattern | None) -> str | None:
    if text is None or pattern is None:
        return text
    return pattern.sub(text)
