"""Writing ``review.txt``: the review file as this tool renders it, kept current after each save.

Apart from ``textfile`` (which reads a reviewer's file and imports it, building on ``edits``)
so that ``edits`` can refresh the file after a save without an import cycle.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from typing import Protocol

from .. import transcript as tr
from ..outbox import REVIEW_FILE
from . import suggestions
from .interview import Interview

# A line of a segment's text or English that the file's reader would take for one of its own
# markers (a block's '===' line, 'text:', 'english:'), backslashes and spaces before it allowed:
# written with one more backslash in front, which reading takes off again.
MARKER_LIKE = re.compile(r"[\s\\]*(===|text:\s*$|english:\s*$)")


def escape(body: str) -> str:
    return "\n".join("\\" + ln if MARKER_LIKE.match(ln) else ln for ln in body.split("\n"))


def unescape(line: str) -> str:
    return line[1:] if line.startswith("\\") and MARKER_LIKE.match(line[1:]) else line


class Reviews(Protocol):
    """What writing the file needs of ``edits.Reviews``, which imports this module to keep the
    file current after each save (so it is described here, not imported)."""

    db: sqlite3.Connection

    def open(self, interview: Interview) -> tr.Transcript: ...

    def revisions(self, interview_id: str) -> dict[int, dict]: ...


def close_speakers(t: tr.Transcript) -> list[dict]:
    """Pairs of speaker labels whose voices the speaker step found close, both still in use
    (under the names reviewers gave them): the page offers to merge them."""
    names = t.speakers.get("names", {})
    used = {s.speaker for s in t.segments if s.speaker}
    pairs = []
    for pair in t.speakers.get("close", []):
        keep, merge = (names.get(label, label) for label in pair["labels"])
        if keep != merge and {keep, merge} <= used:
            pairs.append({"keep": keep, "merge": merge, "distance": pair["distance"]})
    return pairs


def render(
    t: tr.Transcript,
    revisions: dict[int, dict],
    offered: dict[int, suggestions.Suggestion] | None = None,
) -> str:
    lines = [
        f"# testimony review file: interview {t.interview_id} (case {t.case_id})",
        "# Correct the language, speaker, reviewed, text and english of any segment, save, then run",
        "#   testimony review import review.txt     (a running `testimony watch` imports it by itself)",
        "# Leave each '=== segment' line as it is: it says which version of the segment you edit.",
        "# Times and flags are for reference; split or merge segments on the review page.",
        "# Deleting a block deletes nothing. Lines starting with # above 'text:' are ignored.",
        "",
    ]
    labels = list(dict.fromkeys(s.speaker for s in t.segments if s.speaker))
    if labels:
        lines += [
            "# Speakers: write a name after '->' to rename a speaker in every segment at once.",
            *(f"speaker {label} -> {label}" for label in labels),
        ]
        lines += [
            f"# {p['merge']} and {p['keep']} sound alike: "
            f"'speaker {p['merge']} -> {p['keep']}' merges them."
            for p in close_speakers(t)
        ] + [""]
    for seg in t.segments:
        lines += [
            f"=== segment {seg.id} | {tr.timestamp(seg.start)} --> {tr.timestamp(seg.end)} | rev {revisions[seg.id]['revision']}",
            f"# flags: {' '.join(', '.join(seg.flags).split()) or 'none'}",  # one line, whatever a flag holds
            f"language: {seg.language}",
            f"speaker: {seg.speaker or ''}".rstrip(),
            f"reviewed: {'yes' if seg.reviewed else 'no'}",
            *_offered((offered or {}).get(seg.id)),
            "text:",
            escape(seg.text),
            "english:",
            escape(seg.english or ""),
            "",
        ]
    return "\n".join(lines)


def _offered(suggestion: suggestions.Suggestion | None) -> list[str]:
    """Comment lines with the new machine text for a kept segment (ignored on import)."""
    if suggestion is None:
        return []
    one_line = " ".join(suggestion.text.split())
    return [
        f"# new machine text (version {suggestion.version}, {suggestion.model}): {one_line}",
        f"# differences from the text below: {suggestions.diff_text(suggestion.diff)}",
    ]


def write_review_file(
    reviews: Reviews,
    interview: Interview,
    force: bool = False,
    unless_changed_from: bytes | None = None,
) -> bool:
    """(Re)write review.txt unless a person has changed it since this tool last wrote it.

    A changed file holds edits not imported yet: it is left alone until imported, and never
    overwritten. ``force`` rewrites a file just imported, but only while it still holds
    ``unless_changed_from`` (checked last thing): a save made meanwhile is kept. Returns
    whether the file was written.
    """
    path = interview.out_dir / REVIEW_FILE
    row = reviews.db.execute(
        "SELECT sha256 FROM review_files WHERE interview_id=?", (interview.interview_id,)
    ).fetchone()
    if path.exists() and not path.is_file():  # a directory or pipe put there: not ours to replace
        return False
    if path.exists() and not force:
        if row is None or hashlib.sha256(path.read_bytes()).hexdigest() != row["sha256"]:
            return False
    t = reviews.open(interview)
    offered = suggestions.load(interview.out_dir)
    content = render(t, reviews.revisions(interview.interview_id), offered)
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()
    if unless_changed_from is not None and _read(path) != unless_changed_from:
        return False
    if not (path.exists() and hashlib.sha256(path.read_bytes()).hexdigest() == digest):
        tr.write_atomic(path, content)
    record_written(reviews.db, interview, digest)
    return True


def record_written(db: sqlite3.Connection, interview: Interview, digest: str) -> None:
    """Remember what review.txt holds as this tool's own: a file that still hashes to ``digest``
    holds nothing unimported, so it may be rewritten."""
    db.execute("INSERT OR REPLACE INTO review_files VALUES (?,?)", (interview.interview_id, digest))


def _read(path) -> bytes | None:
    try:
        return path.read_bytes()
    except OSError:
        return None
