"""Which language a piece of transcribed text is in: Kazakh, Kyrgyz or Russian.

Interviews switch between the three mid-sentence, and Whisper decodes a whole window in one
language, so each segment is labelled from its text: its English then comes from the package
for its own language, and a file whose text reads as another language than it was tagged
with gets a warning.

The alphabets decide first, because langid.py alone confuses Kazakh and Kyrgyz (on the
NTREX Kyrgyz sentences it says Kyrgyz for 86 of 200): Kazakh writes ә ғ қ ұ і һ, which
Kyrgyz and Russian never do; Kyrgyz shares ң ө ү with Kazakh, and Russian has none of them.
Text without any of them (Russian, or a short fragment) goes to langid.py, whose model
ships inside the wheel. On the NTREX sentences this labels 199 of 200 Kazakh, 168 of 200
Kyrgyz and 199 of 200 Russian ones as their own language (tests/test_language.py).
"""

from __future__ import annotations

import functools
import re

LANGUAGES = ("kk", "ky", "ru")
KAZAKH_ONLY = frozenset("әғқұіһ")
KAZAKH_OR_KYRGYZ = frozenset("ңөү")
# Less Kazakh or Kyrgyz speech than this proves nothing: base often writes Kazakh without its
# own letters (к for қ), and one short segment would then "read as Kyrgyz".
EVIDENCE_SECONDS = 30.0
# Whisper's detection, restricted to Kazakh and Russian, scores both low when the speech is in
# neither: a 96-second Kyrgyz recording gave kk 0.011, ru 0.004, and espeak-ng's Kyrgyz voice
# kk 0.004. With base, the eight shipped Kazakh interview clips (tests/data/kk) score kk 0.18 to
# 0.81; this bound lies between the two, a factor of about four from each.
UNSURE_BELOW = 0.05
_WORD = re.compile(r"[^\W\d_]+")
_CYRILLIC = frozenset("абвгдеёжзийклмнопрстуфхцчшщъыьэюя") | KAZAKH_ONLY | KAZAKH_OR_KYRGYZ


@functools.lru_cache(maxsize=1)
def _identifier():
    from langid.langid import LanguageIdentifier, model

    identifier = LanguageIdentifier.from_modelstring(model, norm_probs=True)
    identifier.set_languages(list(LANGUAGES))
    return identifier


def label(text: str) -> str | None:
    """``kk``, ``ky`` or ``ru`` for ``text``; None when it has no Cyrillic words to judge.

    Capitalised words after the first are left out of the letter test: they are mostly names,
    and a Russian sentence about "Айгүл" is still Russian."""
    words = [w for w in _WORD.findall(text) if _CYRILLIC & set(w.lower())]
    if not words:
        return None
    common = [set(w.lower()) for i, w in enumerate(words) if i == 0 or not w[0].isupper()]
    if any(KAZAKH_ONLY & letters for letters in common):
        return "kk"
    if any(KAZAKH_OR_KYRGYZ & letters for letters in common):
        return "ky"
    return _identifier().classify(" ".join(words).lower())[0]


def how_to_set(code: str) -> str:
    """How to transcribe this recording again in ``code``, and three ways to give new ones it."""
    return (
        f"transcribe it again with `testimony retranscribe INTERVIEW --language {code}`; "
        f"for new recordings, give --language {code} (testimony process), "
        f'language = "{code}" in a sidecar beside the recording, '
        f'or language = "{code}" on its [[watch]] folder in testimony.toml'
    )


def _share(labels: list[str | None], weights: list[float], code: str) -> float | None:
    """The share of the Kazakh and Kyrgyz speech (by duration) that reads as ``code``; None
    when there is too little of it to judge (:data:`EVIDENCE_SECONDS`)."""
    total = sum(w for w, lab in zip(weights, labels) if lab in ("kk", "ky"))
    if total < EVIDENCE_SECONDS:
        return None
    return sum(w for w, lab in zip(weights, labels) if lab == code) / total


def mismatch_warning(tagged: str, labels: list[str | None], weights: list[float]) -> str | None:
    """A warning when most of the text (by duration) reads as Kazakh in a file tagged Kyrgyz,
    or the reverse; Russian passages are expected in both and never warn."""
    other = {"kk": "ky", "ky": "kk"}.get(tagged)
    if other is None:
        return None
    share = _share(labels, weights, other)
    if share is None or share <= 0.5:
        return None
    names = {"kk": "Kazakh", "ky": "Kyrgyz"}
    return (
        f"tagged {names[tagged]} but {share:.0%} of the {names[tagged]}/{names[other]} speech reads as "
        f"{names[other]}: check the language; if it is {names[other]}, {how_to_set(other)}"
    )


def maybe_kyrgyz_warning(
    detected: dict[str, float], labels: list[str | None], weights: list[float]
) -> str | None:
    """A warning for a recording whose language was detected, not given: Whisper has no Kyrgyz,
    so a Kyrgyz recording comes out as Kazakh (or Russian) unless something says otherwise.
    Its signs: detection unsure of every language it could choose, or text reading as Kyrgyz."""
    reasons = []
    if detected and max(detected.values()) < UNSURE_BELOW:
        scores = ", ".join(f"{code} {p:.3f}" for code, p in sorted(detected.items()))
        reasons.append(
            f"language detection was unsure of both Kazakh and Russian ({scores}; "
            f"below {UNSURE_BELOW})"
        )
    share = _share(labels, weights, "ky")
    if share is not None and share > 0.5:
        reasons.append(f"{share:.0%} of its Kazakh/Kyrgyz speech reads as Kyrgyz")
    if not reasons:
        return None
    return (
        f"this recording may be Kyrgyz, which Whisper cannot detect: {' and '.join(reasons)}. "
        f"If it is Kyrgyz, {how_to_set('ky')}"
    )
