"""What a reviewer's request is made of: the fields they may change, one audited change, the
errors a request can end in. Shared by :mod:`.edits`, :mod:`.reshape` and the page's handlers.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..config import LANGUAGES

EDITABLE = ("text", "english", "language", "speaker", "reviewed")
STATUSES = ("unreviewed", "in_progress", "reviewed")
MACHINE_TRANSLATION = "machine translation"
MERGE_SPEAKERS = "merge speakers"  # the audit action of merging one speaker label into another
HAND_WRITTEN = ("edit", "review.txt")  # audit actions in which a person typed the value


class ReviewError(ValueError):
    """A request that cannot be carried out; the message says what to do instead."""


class NotFound(ReviewError):
    pass


class Conflict(ReviewError):
    """A save based on a stale revision: someone else saved the segment in the meantime."""

    def __init__(
        self, segment_id: int, revision: int, current: dict | None, by: str | None, at: str
    ):
        self.segment_id, self.revision, self.current, self.by, self.at = (
            segment_id,
            revision,
            current,
            by,
            at,
        )
        gone = " (merged into another segment)" if current is None else ""
        super().__init__(
            f"segment {segment_id} was saved by {by or 'the pipeline'} at {at} (revision {revision})"
            f"{gone} after you started editing it; look at their version before saving yours"
        )


class NeedsConfirmation(ReviewError):
    """Re-translating would replace English a person wrote; the caller must ask first."""

    def __init__(self, proposed: str):
        self.proposed = proposed
        super().__init__("this segment's English was written by hand; confirm to replace it")


@dataclass
class Change:
    """One audited change: a field of a segment (or of the interview), before and after."""

    segment_id: int | None
    field: str
    before: object
    after: object
    action: str = "edit"


@dataclass
class Edit:
    """What a reviewer asks for on one segment, based on the revision they saw."""

    segment_id: int
    revision: int
    changes: dict = field(default_factory=dict)


def validate_changes(changes: dict) -> dict:
    """Checked and normalised field values; raises ReviewError naming the bad field."""
    clean = {}
    for name, value in changes.items():
        if name not in EDITABLE:
            raise ReviewError(f"{name!r} cannot be edited; editable fields: {', '.join(EDITABLE)}")
        if name == "language":
            if value not in LANGUAGES:
                raise ReviewError(f"language {value!r} is not one of {', '.join(LANGUAGES)}")
        elif name == "reviewed":
            if not isinstance(value, bool):
                raise ReviewError("reviewed must be true or false")
        elif value is not None and not isinstance(value, str):
            raise ReviewError(f"{name} must be text")
        elif name == "text":
            value = (value or "").strip()
        elif name in ("english", "speaker"):
            value = (value or "").strip() or None
        clean[name] = value
    return clean
