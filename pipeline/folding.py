"""Letter folding: the one common form in which two spellings of a word count as the same.

Reviewers and base models often type a Kazakh or Kyrgyz letter as its Russian-keyboard
stand-in (қ as к, ә as а, і as и), ё as е, and text may arrive decomposed (NFD). Search folds
the index and every query to this form; withheld names are matched in it too, so that any
spelling the search finds as a withheld name is also hidden (:mod:`pipeline.withheld`).

The mapping is one letter for one letter after NFC, so a position in the NFC text is the same
position in the folded text.
"""

from __future__ import annotations

import unicodedata

FOLD = str.maketrans("ёЁәӘөӨүҮұҰқҚғҒңҢһҺіІ", "еЕаАоОуУуУкКгГнНхХиИ")


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def fold(text: str | None) -> str | None:
    """``text`` in the common form: NFC, each letter replaced by its stand-in (same length)."""
    return None if text is None else nfc(text).translate(FOLD)
