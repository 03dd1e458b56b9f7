"""What the DOCX and the PDF both say: the header a journalist cites and the timestamped text.

Both renderers take a transcript already passed through :func:`redact.redacted`, so they only
lay out text; they never decide what may be shown.
"""

from __future__ import annotations

from pathlib import Path

from ..transcript import Segment, Transcript
from .subtitles import UNREVIEWED_MARK

LANGUAGE_NAMES = {"kk": "Kazakh", "ky": "Kyrgyz", "ru": "Russian", "en": "English"}
# DejaVu Sans, shipped in the package (fonts/README.md), so that every machine's PDF and
# burned-in subtitles have every Kazakh letter (ә ғ қ ң ө ұ ү һ і), and the same glyphs.
FONTS = Path(__file__).with_name("fonts")
FONT_FAMILY = "DejaVu Sans"


class ExportError(RuntimeError):
    """An export cannot be made; the message says why and what to do."""


def font_files() -> tuple[Path, Path]:
    """(regular, bold) DejaVu Sans."""
    return FONTS / "DejaVuSans.ttf", FONTS / "DejaVuSans-Bold.ttf"


def clock(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


def language_names(codes: list[str]) -> str:
    return ", ".join(f"{LANGUAGE_NAMES.get(c, c)} ({c})" for c in codes)


def banner(unreviewed: bool) -> str | None:
    return f"{UNREVIEWED_MARK}: NOT CHECKED BY A PERSON" if unreviewed else None


def header_fields(t: Transcript, ref: str) -> list[tuple[str, str]]:
    """Label/value rows for the top of the document; ``t`` must be the redacted transcript."""
    review = t.review
    reviewers = ", ".join(review.get("reviewers") or []) or "none"
    checked = sum(1 for s in t.segments if s.reviewed)
    withheld = sum(1 for s in t.segments if s.withheld)
    packages = (
        ", ".join(sorted(set((t.translation.get("packages") or {}).values()) - {None})) or "none"
    )
    rows = [
        ("Case ID", t.case_id),
        ("Interview", ref),
        ("Interview date", str(t.interview.get("recorded_on") or "not recorded")),
    ]
    if t.interview.get("interviewee"):
        rows.append(("Interviewee", t.interview["interviewee"]))
    rows += [
        ("Spoken languages", language_names(t.languages)),
        ("Duration", clock(t.source.get("duration_s") or 0)),
        ("Review status", review.get("status", "unreviewed")),
        ("Reviewers", reviewers),
        (
            "English",
            f"machine translation ({t.translation.get('engine', 'argostranslate')}: {packages}); "
            f"{checked} of {len(t.segments)} segments checked by a reviewer",
        ),
        (
            "Withheld to protect people",
            f"names or terms: {review.get('withheld_term_count', 0)}; "
            f"segments: {withheld} (muted in the video)",
        ),
        ("Original recording SHA-256", t.source.get("sha256") or "unknown"),
    ]
    return rows


def stamp(seg: Segment) -> str:
    return f"{clock(seg.start)}–{clock(seg.end)}"
