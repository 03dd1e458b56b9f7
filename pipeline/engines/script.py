"""Which of Whisper's tokens can be part of Cyrillic-script text: shared by both engines.

A module of its own so that the engine modules need not import their package, which loads them.
"""

from __future__ import annotations

from typing import Iterable

# Bytes a Cyrillic-script token may hold: ASCII other than letters (digits, punctuation,
# space), UTF-8 lead bytes of U+0400-U+04FF (all Kazakh, Kyrgyz and Russian letters), of
# Latin-1 punctuation (« ») and of general punctuation (— …), and continuation bytes.
_CYRILLIC_BYTES = frozenset(
    [
        *range(0x20, 0x41),
        *range(0x5B, 0x61),
        *range(0x7B, 0x7F),
        *range(0x80, 0xC0),
        0xC2,
        0xD0,
        0xD1,
        0xD2,
        0xD3,
        0xE2,
    ]
)


def foreign_script_token_ids(token_bytes: Iterable[tuple[int, bytes]]) -> list[int]:
    """Ids of the text tokens that cannot be part of Cyrillic-script text.

    Kazakh, Kyrgyz and Russian are written in Cyrillic; base Whisper writes whole Kazakh clips
    in Latin transliteration, and when it samples at higher temperatures, in Korean, Chinese or
    Arabic letters too. Suppressing these tokens keeps the output Cyrillic (digits and
    punctuation stay allowed)."""
    return [i for i, data in token_bytes if not set(data) <= _CYRILLIC_BYTES]
