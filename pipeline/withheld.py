"""Withheld terms: how a name a reviewer withheld is found and replaced in any text.

A low module shared by export (which replaces them in everything it writes, see
:mod:`pipeline.export.redact`) and search (which never shows them to the press), so that
neither imports the other.
"""

from __future__ import annotations

import re

TERM_MARK = "[name withheld]"
# Sidecar fields an export or the press's search may show; everything else (names hints, notes)
# stays internal.
SHOWN_INTERVIEW_FIELDS = ("recorded_on", "interviewee")


def term_pattern(terms: list[str]) -> re.Pattern | None:
    """Any term, case-insensitive, starting a word and taking the rest of that word with it.

    Kazakh and Russian add endings to names (Ерлан: Ерланның, Ерланды; Ерлана, Ерланом), so a
    term hides its inflected forms too. Spaces inside a term match any spacing.
    """
    cleaned = sorted({t.strip() for t in terms if t.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    parts = [r"\s+".join(re.escape(word) for word in term.split()) for term in cleaned]
    return re.compile(r"(?<!\w)(?:" + "|".join(parts) + r")\w*", re.IGNORECASE)


def redact_text(text: str | None, pattern: re.Pattern | None) -> str | None:
    if text is None or pattern is None:
        return text
    return pattern.sub(TERM_MARK, text)
