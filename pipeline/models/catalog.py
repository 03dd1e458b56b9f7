"""The models ``testimony models fetch`` knows by name: where each comes from, at which
revision, under which licence, for which languages, and the error rates published for it.

Known so that a user types ``large-v3`` rather than finding a repository, and so that
``models list`` can say what quality to expect and where that figure was published. A
revision of None means the repository's default branch, resolved to its commit at fetch time
and recorded in the bundle (a commit is only written here where it was checked).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Known:
    name: str
    kind: str  # "whisper" (Hugging Face Whisper), "nllb" (Hugging Face NLLB-200), "argos" (Argos index)
    repo: str  # Hugging Face repository ID, or the Argos language pair "ru-en"
    licence: str
    languages: tuple[str, ...]
    revision: str | None = None
    published: tuple[str, ...] = field(default=())  # error rates as published, each with its source


WHISPER_PAPER = "Radford et al. 2022, Robust Speech Recognition via Large-Scale Weak Supervision"
TURBO_KK_CARD = (
    "model card of huggingface.co/abilmansplus/whisper-turbo-kaz-rus-v1 (measured by its author)"
)
NLLB_METRICS = "FLORES-200 devtest, NLLB Team 2022 (No Language Left Behind), per-direction metrics of the release"

KNOWN: dict[str, Known] = {
    k.name: k
    for k in (
        Known(
            "large-v3",
            "whisper",
            "openai/whisper-large-v3",
            "apache-2.0",
            ("kk", "ru"),
            revision="6cdf07a7e3ec3806e5d55f787915b85d4cd020b1",
            published=(
                "kk WER 32%, ru WER 3% (FLEURS; OpenAI's large-v3 per-language figures, "
                "github.com/openai/whisper)",
            ),
        ),
        Known(
            "large-v3-turbo",
            "whisper",
            "openai/whisper-large-v3-turbo",
            "mit",
            ("kk", "ru"),
            revision="5844d51a088e75c694245360caf76a073086f5c6",
            published=(f"kk WER 23.7%, ru WER 5.2% (FLEURS; {TURBO_KK_CARD})",),
        ),
        Known(
            "medium",
            "whisper",
            "openai/whisper-medium",
            "apache-2.0",
            ("kk", "ru"),
            published=(f"per-language FLEURS WER: {WHISPER_PAPER}, appendix D",),
        ),
        Known(
            "small",
            "whisper",
            "openai/whisper-small",
            "apache-2.0",
            ("kk", "ru"),
            published=(f"per-language FLEURS WER: {WHISPER_PAPER}, appendix D",),
        ),
        Known(
            "nllb-200-distilled-600M",
            "nllb",
            "facebook/nllb-200-distilled-600M",
            "cc-by-nc-4.0",
            ("kk", "ky", "ru"),
            revision="716b434935682cabef30af23dc1128d84b9003d2",
            published=(f"chrF kk->en 0.56, ky->en chrF++ 47.4, ru->en 0.59 ({NLLB_METRICS})",),
        ),
        Known(
            "nllb-200-1.3B",
            "nllb",
            "facebook/nllb-200-1.3B",
            "cc-by-nc-4.0",
            ("kk", "ky", "ru"),
            published=(f"higher than the distilled 600M on FLORES-200 ({NLLB_METRICS})",),
        ),
        Known(
            "argos:ru-en",
            "argos",
            "ru-en",
            "as stated in the package (Argos Translate index)",
            ("ru",),
        ),
        Known(
            "argos:ky-en",
            "argos",
            "ky-en",
            "as stated in the package (Argos Translate index)",
            ("ky",),
        ),
    )
}

# owner/name as the hub spells repository IDs
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*/[A-Za-z0-9][A-Za-z0-9_.-]*")


def is_repo_id(name: str) -> bool:
    return bool(_REPO_ID.fullmatch(name)) and ".." not in name


def local_name(repo_id: str) -> str:
    """The name a fetched fine-tune is installed under: the repository's own name."""
    return repo_id.rsplit("/", 1)[-1]


def published_for(name: str, repo: str | None = None) -> tuple[str, ...]:
    """Published error rates for an installed model, found by its name or its source repository."""
    for known in KNOWN.values():
        if known.name == name or (repo and known.repo == repo):
            return known.published
    return ()
