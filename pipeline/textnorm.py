"""The one text normalisation the benchmark applies to reference and hypothesis alike.

1. Unicode NFKC, lower case, ``ё`` → ``е`` (Russian writes both).
2. Numbers in digits are spelled out in the clip's language with num2words (Kazakh ``kz``,
   Russian ``ru``; cardinal, nominative: "42" → "қырық екі" / "сорок два"). num2words has no
   Kyrgyz, so Kyrgyz digits are left as digits: a Kyrgyz reference with spelled-out numbers
   counts them as errors against a hypothesis in digits.
3. Every character that is not a letter, a digit or a combining mark (punctuation, symbols,
   hyphens, apostrophes) becomes a space; runs of whitespace become one space.

Word error rate counts edits over the normalised words; character error rate counts edits
over the normalised characters, single spaces included.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

NUM2WORDS_LANG = {"kk": "kz", "ru": "ru"}
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")


def _spell(match: re.Match, lang: str) -> str:
    from num2words import num2words

    text = match.group(0).replace(",", ".")
    try:
        return " " + num2words(float(text) if "." in text else int(text), lang=lang) + " "
    except (NotImplementedError, OverflowError, ValueError):
        return match.group(0)


def normalize(text: str, language: str) -> str:
    text = unicodedata.normalize("NFKC", text).lower().replace("ё", "е")
    lang = NUM2WORDS_LANG.get(language)
    if lang:
        text = _NUMBER.sub(lambda m: _spell(m, lang), text)
    text = "".join(c if unicodedata.category(c)[0] in "LNM" else " " for c in text)
    return " ".join(text.split())


def edit_distance(ref: list | str, hyp: list | str) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1)."""
    row = list(range(len(hyp) + 1))
    for i, x in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, y in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (x != y))
    return row[-1]


def read_tsv(path: Path) -> list[dict]:
    """A references file (tab-separated, a header row, no quoting), as the benchmarks read them."""
    with open(path, encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
