"""Server paths never reach the page: a message that names one says which folder in words."""

from __future__ import annotations

import re

from ..config import Settings

OUTBOX_WORDS = "the interview's outbox folder"


def hide_paths(settings: Settings, text: str) -> str:
    """``text`` with every path under the home folder (or the outbox, or evidence) put in words."""
    roots = [
        (settings.outbox, OUTBOX_WORDS),
        (settings.evidence, "the evidence store"),
        (settings.home, "the home folder"),
    ]
    for root, words in roots:
        for spelled in {str(root.resolve()), str(root)}:
            text = re.sub(re.escape(spelled) + r"[^\s'\",;)]*", words, text)
    return text
